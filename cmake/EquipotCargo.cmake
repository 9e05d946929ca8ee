# Builds the Rust library with cargo into the CMake build tree and defines
# in-tree IMPORTED targets equipot::equipot (shared) and
# equipot::equipot_static, so that a project including equipot with
# add_subdirectory() links it like an installed one.

# ABI name: before 1.0 each minor version may change the ABI, so the SONAME
# carries MAJOR.MINOR; from 1.0 on, MAJOR alone.
if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(EQUIPOT_ABI_VERSION "0.${PROJECT_VERSION_MINOR}")
else()
    set(EQUIPOT_ABI_VERSION "${PROJECT_VERSION_MAJOR}")
endif()
set(EQUIPOT_SONAME "libequipot.so.${EQUIPOT_ABI_VERSION}")
set(EQUIPOT_SHARED_FILE "libequipot.so.${PROJECT_VERSION}")

# What a static libequipot.a needs besides libc (rustc --print native-static-libs).
set(EQUIPOT_STATIC_DEPS gcc_s util rt pthread m dl)

function(equipot_cargo_build)
    find_program(CARGO_EXECUTABLE cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin")
    if(NOT CARGO_EXECUTABLE)
        message(FATAL_ERROR "cargo not found: install Rust (https://rustup.rs) or set CARGO_EXECUTABLE")
    endif()
    if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
        message(FATAL_ERROR "equipot's CMake build supports Linux (ELF shared libraries) only")
    endif()

    # A target directory of our own: the SONAME link argument would otherwise
    # make cargo rebuild the library each time `cargo build` and CMake alternate.
    set(target_dir "${CMAKE_CURRENT_BINARY_DIR}/cargo")
    set(out "${target_dir}/release")
    set(flags --release --locked --lib)
    if(EQUIPOT_CARGO_OFFLINE)
        list(APPEND flags --offline)
    endif()
    # `cargo rustc` passes the link argument to this crate's link only (the
    # cdylib), not to dependencies, build scripts or the `equipot` binary.
    add_custom_target(equipot_cargo ALL
        COMMAND ${CMAKE_COMMAND} -E env CARGO_TARGET_DIR=${target_dir}
                ${CARGO_EXECUTABLE} rustc ${flags}
                --manifest-path ${PROJECT_SOURCE_DIR}/Cargo.toml
                -- -C link-arg=-Wl,-soname,${EQUIPOT_SONAME}
        # In-tree users load the library by its SONAME.
        COMMAND ${CMAKE_COMMAND} -E create_symlink libequipot.so "${out}/${EQUIPOT_SONAME}"
        BYPRODUCTS "${out}/libequipot.so" "${out}/libequipot.a"
        WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
        COMMENT "Building libequipot with cargo"
        USES_TERMINAL)
    set(EQUIPOT_CARGO_OUT "${out}" PARENT_SCOPE)

    add_library(equipot::equipot SHARED IMPORTED GLOBAL)
    set_target_properties(equipot::equipot PROPERTIES
        IMPORTED_LOCATION "${out}/libequipot.so"
        IMPORTED_SONAME "${EQUIPOT_SONAME}"
        INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include;${PROJECT_SOURCE_DIR}/bindings/cpp")
    add_library(equipot::equipot_static STATIC IMPORTED GLOBAL)
    set_target_properties(equipot::equipot_static PROPERTIES
        IMPORTED_LOCATION "${out}/libequipot.a"
        INTERFACE_LINK_LIBRARIES "${EQUIPOT_STATIC_DEPS}"
        INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include;${PROJECT_SOURCE_DIR}/bindings/cpp")
    add_dependencies(equipot::equipot equipot_cargo)
    add_dependencies(equipot::equipot_static equipot_cargo)
endfunction()
