#!/usr/bin/env bash
# The C ABI's consumers: header checks, the CMake build and install, and the
# C, C++ and Fortran programs built against the INSTALLED library (CMake
# package, pkg-config, static and shared), the bad-input tests, and valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/build/ci-consumers
prefix=$work/prefix
rm -rf "$prefix" "$work"/{example-c,example-c-static,example-cpp,bin}
mkdir -p "$work/bin"

echo "-- equipot.h compiles as C11 and C++17, equipot.hpp as C++17 (-Wall -Wextra -Werror -pedantic)"
printf '#include <equipot.h>\nint main(void) { return 0; }\n' |
    gcc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -x c -fsyntax-only -
printf '#include <equipot.h>\nint main() { return 0; }\n' |
    g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -x c++ -fsyntax-only -
printf '#include <equipot.hpp>\nint main() { return 0; }\n' |
    g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -Ibindings/cpp -x c++ -fsyntax-only -

echo "-- cmake: build with cargo (offline, from cargo's cache) and install to $prefix"
cmake -S . -B "$work/build" -DEQUIPOT_CARGO_OFFLINE=ON >/dev/null
cmake --build "$work/build"
cmake --install "$work/build" --prefix "$prefix" >/dev/null
lib=$prefix/lib
soname=$(readelf -d "$lib/libequipot.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libequipot.so.0.1" ] || { echo "unexpected SONAME '$soname'"; exit 1; }
[ "$(readlink "$lib/libequipot.so")" = "libequipot.so.0.1" ]
[ "$(readlink "$lib/libequipot.so.0.1")" = "libequipot.so.0.1.0" ]
for f in lib/libequipot.a include/equipot.h include/equipot.hpp share/equipot/fortran/equipot.f90 \
    lib/cmake/equipot/equipotConfig.cmake lib/cmake/equipot/equipotConfigVersion.cmake lib/pkgconfig/equipot.pc; do
    [ -f "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion equipot)" = "0.1.0" ]
echo "installed: SONAME $soname, pkg-config equipot $(pkg-config --modversion equipot)"

echo "-- CMake package: version 0.1 is found, 0.2 and 1.0 are not (SameMinorVersion)"
for want in 0.1:found 0.1.0:found 0.2:missing 1.0:missing; do
    version=${want%%:*}
    mkdir -p "$work/version-$version"
    printf 'cmake_minimum_required(VERSION 3.16)\nproject(v NONE)\nfind_package(equipot %s QUIET)\nif(NOT equipot_FOUND)\n  message(FATAL_ERROR "not found")\nendif()\n' \
        "$version" >"$work/version-$version/CMakeLists.txt"
    if cmake -S "$work/version-$version" -B "$work/version-$version/b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
        got=found
    else
        got=missing
    fi
    [ "$got" = "${want#*:}" ] || { echo "find_package(equipot $version): $got"; exit 1; }
    rm -rf "$work/version-$version"
done

echo "-- examples/c: a project outside the tree, find_package(equipot), shared library"
cmake -S examples/c -B "$work/example-c" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/example-c" >/dev/null
"$work/example-c/lj_check"
readelf -d "$work/example-c/lj_check" | grep -q 'NEEDED.*libequipot.so.0.1'

echo "-- examples/c with the static library"
cmake -S examples/c -B "$work/example-c-static" -DCMAKE_PREFIX_PATH="$prefix" -DEQUIPOT_STATIC=ON >/dev/null
cmake --build "$work/example-c-static" >/dev/null
if readelf -d "$work/example-c-static/lj_check" | grep -q 'NEEDED.*libequipot'; then
    echo "the static build links libequipot dynamically"; exit 1
fi
"$work/example-c-static/lj_check" >/dev/null && echo "static lj_check: all checks passed"

echo "-- examples/cpp: equipot.hpp through find_package(equipot)"
cmake -S examples/cpp -B "$work/example-cpp" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/example-cpp" >/dev/null
"$work/example-cpp/lj_check_cpp"

echo "-- tests/c/bad_input.c through pkg-config"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror tests/c/bad_input.c $(pkg-config --cflags --libs equipot) -lm \
    -Wl,-rpath,"$lib" -o "$work/bin/bad_input"

echo "-- tests/c/options.c (ABI version, sized option structs) and tests/c/abi_check.cpp (equipot.hpp's check)"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror tests/c/options.c $(pkg-config --cflags --libs equipot) -lm \
    -Wl,-rpath,"$lib" -o "$work/bin/options"
"$work/bin/options"
# shellcheck disable=SC2046
g++ -std=c++17 -Wall -Wextra -Werror tests/c/abi_check.cpp -Ibindings/cpp $(pkg-config --cflags --libs equipot) \
    -Wl,-rpath,"$lib" -o "$work/bin/abi_check"
"$work/bin/abi_check"
# shellcheck disable=SC2046
g++ -std=c++17 -Wall -Wextra -Werror -DEQUIPOT_EXPECTED_ABI_VERSION=999 -DEXPECT_MISMATCH tests/c/abi_check.cpp \
    -Ibindings/cpp $(pkg-config --cflags --libs equipot) -Wl,-rpath,"$lib" -o "$work/bin/abi_mismatch"
"$work/bin/abi_mismatch"
"$work/bin/bad_input"

echo "-- tests/c/model_file_errors.c: corrupted and absurd model files"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror tests/c/model_file_errors.c $(pkg-config --cflags --libs equipot) -lm \
    -Wl,-rpath,"$lib" -o "$work/bin/model_file_errors"
"$work/bin/model_file_errors"

echo "-- Fortran: the installed module source and bindings/fortran/test_equipot.f90 (gfortran)"
# shellcheck disable=SC2046
gfortran -std=f2018 -Wall -Wextra -Werror -fcheck=all -g -J "$work/bin" \
    "$prefix/share/equipot/fortran/equipot.f90" bindings/fortran/test_helpers.f90 bindings/fortran/test_equipot.f90 \
    $(pkg-config --libs equipot) -Wl,-rpath,"$lib" -o "$work/bin/test_equipot"
"$work/bin/test_equipot"

echo "-- valgrind (memcheck, leaks): the C example and the bad-input tests"
for program in "$work/example-c/lj_check" "$work/bin/bad_input" "$work/bin/options"; do
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
        --suppressions=tests/c/valgrind.supp "$program" >/dev/null
    echo "valgrind clean: $(basename "$program")"
done
echo "consumers: all passed"
