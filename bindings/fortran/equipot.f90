!> equipot from Fortran: the C ABI of equipot.h through iso_c_binding.
!>
!> Two layers:
!> - raw interfaces c_eqp_* bound to the C functions one to one (pointers as
!>   type(c_ptr), sizes as integer(c_size_t), indices 0-based);
!> - friendly wrappers named like the C functions (eqp_graph_build, ...) that
!>   take Fortran arrays: positions(3, n_atoms), cell(3, 3) whose COLUMNS are
!>   the lattice vectors (the same memory as C's rows), logical pbc(3),
!>   forces(3, n_atoms), virial(3, 3), and 1-based atom indices. They return
!>   the C status (EQP_SUCCESS = 0); eqp_last_error() returns the message.
!>
!> Handles (workspace, graph, model) are type(c_ptr); *_free sets them to
!> c_null_ptr. Units: Å, eV, eV/Å; virial in eV with LAMMPS's sign.
!>
!> Domain-decomposed hosts pass ghosts within one cutoff and a halo exchange:
!> a bind(C) function with the interface eqp_halo_exchange, given to
!> eqp_compute_with_halo as c_funloc(it) with its own data as a type(c_ptr).
module equipot
    use, intrinsic :: iso_c_binding
    implicit none
    private

    ! Status codes, precisions and version, as in equipot.h.
    integer(c_int32_t), parameter, public :: EQP_SUCCESS = 0, EQP_ERROR_INVALID_ARGUMENT = 1, &
        EQP_ERROR_LENGTH_MISMATCH = 2, EQP_ERROR_NULL_POINTER = 3, EQP_ERROR_UNKNOWN_ELEMENT = 4, &
        EQP_ERROR_IO = 5, EQP_ERROR_MODEL_FORMAT = 6, EQP_ERROR_UNSUPPORTED = 7, EQP_ERROR_INTERNAL = 8, &
        EQP_ERROR_CALLBACK = 9
    integer(c_int32_t), parameter, public :: EQP_FLOAT64 = 0, EQP_FLOAT32 = 1
    !> Halo exchange directions: forward copies every ghost's row from its
    !> owner's row; reverse adds every ghost's row into its owner's row.
    integer(c_int32_t), parameter, public :: EQP_HALO_FORWARD = 0, EQP_HALO_REVERSE = 1
    integer, parameter, public :: EQP_VERSION_MAJOR = 0, EQP_VERSION_MINOR = 1, EQP_VERSION_PATCH = 0
    !> EQP_ABI_VERSION of the equipot.h this module mirrors (tests/header.rs
    !> checks that they agree); eqp_check_abi compares it with the library's.
    integer(c_int32_t), parameter, public :: EQP_ABI_VERSION = 1

    !> Where eqp_compute writes its results (eqp_outputs_t in equipot.h).
    type, bind(C), public :: eqp_outputs_t
        integer(c_size_t) :: n_atoms = 0
        real(c_double) :: energy = 0
        type(c_ptr) :: forces = c_null_ptr
        type(c_ptr) :: virial = c_null_ptr
        type(c_ptr) :: atom_energies = c_null_ptr
        type(c_ptr) :: atom_virials = c_null_ptr
    end type

    public :: c_eqp_version, c_eqp_last_error, c_eqp_workspace_new, c_eqp_workspace_free, &
        c_eqp_graph_build, c_eqp_graph_from_neighbor_list, c_eqp_graph_free, c_eqp_graph_n_atoms, &
        c_eqp_graph_n_edges, c_eqp_graph_edges, c_eqp_model_new_lennard_jones, c_eqp_model_load_modal, c_eqp_model_free, &
        c_eqp_model_cutoff, c_eqp_model_n_layers, c_eqp_model_n_species, c_eqp_model_species, &
        c_eqp_model_architecture, c_eqp_compute, c_eqp_model_halo_width, c_eqp_compute_with_halo
    public :: eqp_halo_exchange, eqp_model_halo_width, eqp_compute_with_halo
    public :: c_eqp_abi_version, eqp_check_abi, eqp_workspace_memory_limit
    public :: eqp_version, eqp_last_error, eqp_workspace_new, eqp_workspace_free, eqp_graph_build, &
        eqp_graph_from_neighbor_list, eqp_graph_free, eqp_graph_n_atoms, eqp_graph_n_edges, &
        eqp_graph_edges, eqp_model_new_lennard_jones, eqp_model_load, eqp_model_free, eqp_model_cutoff, &
        eqp_model_n_layers, eqp_model_species, eqp_model_architecture, eqp_compute

    !> A host's halo exchange (eqp_halo_exchange_t). The library calls it on
    !> the thread that called eqp_compute_with_halo, once per message-passing
    !> layer forward and, when forces or virials are wanted, once per layer in
    !> reverse, with the same calls on every rank (also one with no atoms), so
    !> it may communicate collectively (MPI). `values` holds n_atoms rows of
    !> `width` doubles (width <= eqp_model_halo_width), local atoms first, then
    !> ghosts: in Fortran, call c_f_pointer(values, v, [width, n_atoms]) and
    !> atom i's row is v(:, i). Forward: v(:, ghost) = v(:, owner); reverse:
    !> v(:, owner) += v(:, ghost). `user_data` is what the host passed to
    !> eqp_compute_with_halo. Return 0 on success, anything else to stop the
    !> evaluation with EQP_ERROR_CALLBACK (rather than stop the program).
    abstract interface
        function eqp_halo_exchange(user_data, direction, values, n_atoms, width) bind(C) result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: user_data, values
            integer(c_int32_t), value :: direction
            integer(c_size_t), value :: n_atoms, width
            integer(c_int32_t) :: status
        end function
    end interface

    !> The library's count queries (eqp_graph_n_atoms, eqp_model_n_layers, ...).
    abstract interface
        function c_count_query(handle, count) bind(C) result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: handle
            integer(c_size_t) :: count
            integer(c_int32_t) :: status
        end function
    end interface

    interface
        function c_eqp_version() bind(C, name="eqp_version") result(version)
            import :: c_ptr
            type(c_ptr) :: version
        end function

        function c_eqp_abi_version() bind(C, name="eqp_abi_version") result(version)
            import :: c_int32_t
            integer(c_int32_t) :: version
        end function

        function c_eqp_workspace_set_memory_limit(workspace, bytes) bind(C, name="eqp_workspace_set_memory_limit") &
                result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: workspace
            integer(c_size_t), value :: bytes
            integer(c_int32_t) :: status
        end function

        function c_eqp_workspace_memory_limit(workspace, bytes) bind(C, name="eqp_workspace_memory_limit") &
                result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: workspace
            integer(c_size_t) :: bytes
            integer(c_int32_t) :: status
        end function

        function c_eqp_last_error() bind(C, name="eqp_last_error") result(message)
            import :: c_ptr
            type(c_ptr) :: message
        end function

        function c_eqp_workspace_new(n_threads, workspace) bind(C, name="eqp_workspace_new") result(status)
            import :: c_int32_t, c_ptr
            integer(c_int32_t), value :: n_threads
            type(c_ptr) :: workspace
            integer(c_int32_t) :: status
        end function

        subroutine c_eqp_workspace_free(workspace) bind(C, name="eqp_workspace_free")
            import :: c_ptr
            type(c_ptr), value :: workspace
        end subroutine

        function c_eqp_graph_build(workspace, n_atoms, positions, numbers, cell, pbc, cutoff, graph) &
                bind(C, name="eqp_graph_build") result(status)
            import :: c_int32_t, c_ptr, c_size_t, c_double
            type(c_ptr), value :: workspace, positions, numbers, cell, pbc
            integer(c_size_t), value :: n_atoms
            real(c_double), value :: cutoff
            type(c_ptr) :: graph
            integer(c_int32_t) :: status
        end function

        function c_eqp_graph_from_neighbor_list(n_atoms, n_local, positions, numbers, n_rows, offsets, &
                n_neighbors, neighbors, cutoff, graph) bind(C, name="eqp_graph_from_neighbor_list") result(status)
            import :: c_int32_t, c_ptr, c_size_t, c_double
            integer(c_size_t), value :: n_atoms, n_local, n_rows, n_neighbors
            type(c_ptr), value :: positions, numbers, offsets, neighbors
            real(c_double), value :: cutoff
            type(c_ptr) :: graph
            integer(c_int32_t) :: status
        end function

        subroutine c_eqp_graph_free(graph) bind(C, name="eqp_graph_free")
            import :: c_ptr
            type(c_ptr), value :: graph
        end subroutine

        function c_eqp_graph_n_atoms(graph, n_atoms) bind(C, name="eqp_graph_n_atoms") result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: graph
            integer(c_size_t) :: n_atoms
            integer(c_int32_t) :: status
        end function

        function c_eqp_graph_n_edges(graph, n_edges) bind(C, name="eqp_graph_n_edges") result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: graph
            integer(c_size_t) :: n_edges
            integer(c_int32_t) :: status
        end function

        function c_eqp_graph_edges(graph, n_edges, centers, neighbors, shifts, vectors) &
                bind(C, name="eqp_graph_edges") result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: graph, centers, neighbors, shifts, vectors
            integer(c_size_t), value :: n_edges
            integer(c_int32_t) :: status
        end function

        function c_eqp_model_new_lennard_jones(n_species, species, epsilon, sigma, cutoff, model) &
                bind(C, name="eqp_model_new_lennard_jones") result(status)
            import :: c_int32_t, c_ptr, c_size_t, c_double
            integer(c_size_t), value :: n_species
            type(c_ptr), value :: species, epsilon, sigma
            real(c_double), value :: cutoff
            type(c_ptr) :: model
            integer(c_int32_t) :: status
        end function

        function c_eqp_model_load_modal(path, modal, model) bind(C, name="eqp_model_load_modal") result(status)
            import :: c_ptr, c_int32_t
            type(c_ptr), value :: path, modal
            type(c_ptr), intent(out) :: model
            integer(c_int32_t) :: status
        end function

        subroutine c_eqp_model_free(model) bind(C, name="eqp_model_free")
            import :: c_ptr
            type(c_ptr), value :: model
        end subroutine

        function c_eqp_model_cutoff(model, cutoff) bind(C, name="eqp_model_cutoff") result(status)
            import :: c_int32_t, c_ptr, c_double
            type(c_ptr), value :: model
            real(c_double) :: cutoff
            integer(c_int32_t) :: status
        end function

        function c_eqp_model_n_layers(model, n_layers) bind(C, name="eqp_model_n_layers") result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: model
            integer(c_size_t) :: n_layers
            integer(c_int32_t) :: status
        end function

        function c_eqp_model_halo_width(model, width) bind(C, name="eqp_model_halo_width") result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: model
            integer(c_size_t) :: width
            integer(c_int32_t) :: status
        end function

        function c_eqp_model_n_species(model, n_species) bind(C, name="eqp_model_n_species") result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: model
            integer(c_size_t) :: n_species
            integer(c_int32_t) :: status
        end function

        function c_eqp_model_species(model, n_species, species) bind(C, name="eqp_model_species") result(status)
            import :: c_int32_t, c_ptr, c_size_t
            type(c_ptr), value :: model, species
            integer(c_size_t), value :: n_species
            integer(c_int32_t) :: status
        end function

        function c_eqp_model_architecture(model) bind(C, name="eqp_model_architecture") result(name)
            import :: c_ptr
            type(c_ptr), value :: model
            type(c_ptr) :: name
        end function

        function c_eqp_compute(model, graph, workspace, precision, outputs) bind(C, name="eqp_compute") result(status)
            import :: c_int32_t, c_ptr, eqp_outputs_t
            type(c_ptr), value :: model, graph, workspace
            integer(c_int32_t), value :: precision
            type(eqp_outputs_t) :: outputs
            integer(c_int32_t) :: status
        end function

        function c_eqp_compute_with_halo(model, graph, workspace, precision, exchange, user_data, outputs) &
                bind(C, name="eqp_compute_with_halo") result(status)
            import :: c_int32_t, c_ptr, c_funptr, eqp_outputs_t
            type(c_ptr), value :: model, graph, workspace, user_data
            integer(c_int32_t), value :: precision
            type(c_funptr), value :: exchange
            type(eqp_outputs_t) :: outputs
            integer(c_int32_t) :: status
        end function

        function c_strlen(s) bind(C, name="strlen") result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: s
            integer(c_size_t) :: n
        end function
    end interface

    !> Message of the last failed check made by the wrappers themselves (array
    !> shapes), cleared by the next call that reaches the C library.
    character(len=:), allocatable :: wrapper_error

contains

    !> The library's version, "MAJOR.MINOR.PATCH".
    function eqp_version() result(version)
        character(len=:), allocatable :: version
        version = c_string(c_eqp_version())
    end function

    !> The message of the last failed call on this thread ("" if none failed).
    function eqp_last_error() result(message)
        character(len=:), allocatable :: message
        if (allocated(wrapper_error)) then
            message = wrapper_error
        else
            message = c_string(c_eqp_last_error())
        end if
    end function

    !> EQP_SUCCESS when the library has this module's C ABI version, else
    !> EQP_ERROR_UNSUPPORTED with a message (eqp_last_error) giving both.
    !> eqp_workspace_new calls it; call it first if you start elsewhere.
    function eqp_check_abi() result(status)
        integer(c_int32_t) :: status
        character(len=12) :: found, expected
        status = EQP_SUCCESS
        if (c_eqp_abi_version() /= EQP_ABI_VERSION) then
            write (found, "(i0)") c_eqp_abi_version()
            write (expected, "(i0)") EQP_ABI_VERSION
            wrapper_error = "libequipot has C ABI version " // trim(found) // &
                " but the equipot Fortran module expects ABI version " // trim(expected)
            status = EQP_ERROR_UNSUPPORTED
        end if
    end function

    !> Creates a workspace of n_threads threads (0: one per core), after
    !> checking the library's ABI version. memory_limit (bytes, optional):
    !> the most one graph build or evaluation may plan to use.
    function eqp_workspace_new(n_threads, workspace, memory_limit) result(status)
        integer, intent(in) :: n_threads
        type(c_ptr), intent(out) :: workspace
        integer(c_size_t), intent(in), optional :: memory_limit
        integer(c_int32_t) :: status
        workspace = c_null_ptr
        status = eqp_check_abi()
        if (status /= EQP_SUCCESS) return
        status = track(c_eqp_workspace_new(int(n_threads, c_int32_t), workspace))
        if (status == EQP_SUCCESS .and. present(memory_limit)) then
            status = track(c_eqp_workspace_set_memory_limit(workspace, memory_limit))
            if (status /= EQP_SUCCESS) call eqp_workspace_free(workspace)
        end if
    end function

    !> The workspace's memory limit in bytes.
    function eqp_workspace_memory_limit(workspace, bytes) result(status)
        type(c_ptr), intent(in) :: workspace
        integer(c_size_t), intent(out) :: bytes
        integer(c_int32_t) :: status
        status = track(c_eqp_workspace_memory_limit(workspace, bytes))
    end function

    subroutine eqp_workspace_free(workspace)
        type(c_ptr), intent(inout) :: workspace
        call c_eqp_workspace_free(workspace)
        workspace = c_null_ptr
    end subroutine

    !> Builds the full neighbor graph of positions(3, n) with atomic numbers
    !> numbers(n). cell(:, k) is lattice vector k (Å); cell and pbc may be
    !> omitted for a system with no periodic axis.
    function eqp_graph_build(positions, numbers, cutoff, graph, cell, pbc, workspace) result(status)
        real(c_double), intent(in), target, contiguous :: positions(:, :)
        integer(c_int32_t), intent(in), target, contiguous :: numbers(:)
        real(c_double), intent(in) :: cutoff
        type(c_ptr), intent(out) :: graph
        real(c_double), intent(in), target, optional :: cell(3, 3)
        logical, intent(in), optional :: pbc(3)
        type(c_ptr), intent(in), optional :: workspace
        integer(c_int32_t) :: status
        logical(c_bool), target :: flags(3)
        type(c_ptr) :: cell_ptr

        graph = c_null_ptr
        if (size(positions, 1) /= 3 .or. size(positions, 2) /= size(numbers)) then
            status = shape_error("eqp_graph_build: positions must be (3, n) with n = size(numbers) = " &
                // itoa(size(numbers)) // ", got (" // itoa(size(positions, 1)) // ", " &
                // itoa(size(positions, 2)) // ")")
            return
        end if
        flags = .false.
        if (present(pbc)) flags = logical(pbc, c_bool)
        cell_ptr = c_null_ptr
        if (present(cell)) cell_ptr = c_loc(cell)
        status = track(c_eqp_graph_build(or_null(workspace), int(size(numbers), c_size_t), loc_real(positions), &
            loc_int(numbers), cell_ptr, c_loc(flags), cutoff, graph))
    end function

    !> Builds a graph from a host's neighbor list, in Fortran's 1-based
    !> convention: atoms 1..n_local are local, the rest ghosts; the neighbors
    !> of atom i are neighbors(offsets(i) : offsets(i+1) - 1), with offsets(1) = 1.
    function eqp_graph_from_neighbor_list(positions, numbers, n_local, offsets, neighbors, cutoff, graph) &
            result(status)
        real(c_double), intent(in), target, contiguous :: positions(:, :)
        integer(c_int32_t), intent(in), target, contiguous :: numbers(:)
        integer, intent(in) :: n_local
        integer, intent(in) :: offsets(:), neighbors(:)
        real(c_double), intent(in) :: cutoff
        type(c_ptr), intent(out) :: graph
        integer(c_int32_t) :: status
        integer(c_size_t), allocatable, target :: offsets0(:)
        integer(c_int32_t), allocatable, target :: neighbors0(:)

        graph = c_null_ptr
        if (size(positions, 1) /= 3 .or. size(positions, 2) /= size(numbers) .or. size(offsets) < 1) then
            status = shape_error("eqp_graph_from_neighbor_list: positions must be (3, size(numbers)) " &
                // "and offsets hold at least one entry")
            return
        end if
        if (any(offsets < 1)) then
            status = shape_error("eqp_graph_from_neighbor_list: offsets are 1-based and must be >= 1")
            return
        end if
        offsets0 = int(offsets - 1, c_size_t)
        neighbors0 = int(neighbors - 1, c_int32_t)
        status = track(c_eqp_graph_from_neighbor_list(int(size(numbers), c_size_t), int(n_local, c_size_t), &
            loc_real(positions), loc_int(numbers), int(size(offsets) - 1, c_size_t), c_loc(offsets0), &
            int(size(neighbors), c_size_t), loc_int(neighbors0), cutoff, graph))
    end function

    subroutine eqp_graph_free(graph)
        type(c_ptr), intent(inout) :: graph
        call c_eqp_graph_free(graph)
        graph = c_null_ptr
    end subroutine

    function eqp_graph_n_atoms(graph, n_atoms) result(status)
        type(c_ptr), intent(in) :: graph
        integer, intent(out) :: n_atoms
        integer(c_int32_t) :: status
        status = count_of(c_eqp_graph_n_atoms, graph, n_atoms)
    end function

    function eqp_graph_n_edges(graph, n_edges) result(status)
        type(c_ptr), intent(in) :: graph
        integer, intent(out) :: n_edges
        integer(c_int32_t) :: status
        status = count_of(c_eqp_graph_n_edges, graph, n_edges)
    end function

    !> Copies the edges out into arrays allocated here: centers(n_edges) and
    !> neighbors(n_edges) as 1-based atom indices, shifts(3, n_edges) image
    !> shifts, vectors(3, n_edges) edge vectors (Å). Each is optional.
    function eqp_graph_edges(graph, centers, neighbors, shifts, vectors) result(status)
        type(c_ptr), intent(in) :: graph
        integer, allocatable, intent(out), optional :: centers(:), neighbors(:)
        integer(c_int32_t), allocatable, intent(out), target, optional :: shifts(:, :)
        real(c_double), allocatable, intent(out), target, optional :: vectors(:, :)
        integer(c_int32_t) :: status
        integer(c_int32_t), allocatable, target :: c0(:), n0(:)
        type(c_ptr) :: shifts_ptr, vectors_ptr
        integer :: n

        status = eqp_graph_n_edges(graph, n)
        if (status /= EQP_SUCCESS) return
        allocate(c0(n), n0(n))
        shifts_ptr = c_null_ptr
        vectors_ptr = c_null_ptr
        if (present(shifts)) then
            allocate(shifts(3, n))
            if (n > 0) shifts_ptr = c_loc(shifts)
        end if
        if (present(vectors)) then
            allocate(vectors(3, n))
            if (n > 0) vectors_ptr = c_loc(vectors)
        end if
        status = track(c_eqp_graph_edges(graph, int(n, c_size_t), loc_int(c0), loc_int(n0), shifts_ptr, vectors_ptr))
        if (present(centers)) centers = c0 + 1
        if (present(neighbors)) neighbors = n0 + 1
    end function

    !> Shifted Lennard-Jones for species(n) (atomic numbers), with symmetric
    !> epsilon(n, n) (eV) and sigma(n, n) (Å) and a cutoff (Å).
    function eqp_model_new_lennard_jones(species, epsilon, sigma, cutoff, model) result(status)
        integer(c_int32_t), intent(in), target, contiguous :: species(:)
        real(c_double), intent(in), target, contiguous :: epsilon(:, :), sigma(:, :)
        real(c_double), intent(in) :: cutoff
        type(c_ptr), intent(out) :: model
        integer(c_int32_t) :: status
        integer :: n

        model = c_null_ptr
        n = size(species)
        if (any(shape(epsilon) /= [n, n]) .or. any(shape(sigma) /= [n, n])) then
            status = shape_error("eqp_model_new_lennard_jones: epsilon and sigma must be (" // itoa(n) // ", " &
                // itoa(n) // ")")
            return
        end if
        status = track(c_eqp_model_new_lennard_jones(int(n, c_size_t), loc_int(species), loc_real(epsilon), &
            loc_real(sigma), cutoff, model))
    end function

    !> Loads a model file (a converted SevenNet, or a JSON description of an
    !> analytic model); modal picks the fidelity head of a multi-fidelity model
    !> (e.g. "PBE"), absent for the file's default.
    function eqp_model_load(path, model, modal) result(status)
        character(len=*), intent(in) :: path
        type(c_ptr), intent(out) :: model
        character(len=*), intent(in), optional :: modal
        integer(c_int32_t) :: status
        character(kind=c_char), allocatable, target :: c_path(:), c_modal(:)
        type(c_ptr) :: modal_ptr

        model = c_null_ptr
        c_path = c_chars(path)
        modal_ptr = c_null_ptr
        if (present(modal)) then
            c_modal = c_chars(modal)
            modal_ptr = c_loc(c_modal)
        end if
        status = track(c_eqp_model_load_modal(c_loc(c_path), modal_ptr, model))
    end function

    subroutine eqp_model_free(model)
        type(c_ptr), intent(inout) :: model
        call c_eqp_model_free(model)
        model = c_null_ptr
    end subroutine

    function eqp_model_cutoff(model, cutoff) result(status)
        type(c_ptr), intent(in) :: model
        real(c_double), intent(out) :: cutoff
        integer(c_int32_t) :: status
        cutoff = 0
        status = track(c_eqp_model_cutoff(model, cutoff))
    end function

    !> Message-passing layers: an atom's energy depends on atoms up to
    !> n_layers * cutoff away.
    function eqp_model_n_layers(model, n_layers) result(status)
        type(c_ptr), intent(in) :: model
        integer, intent(out) :: n_layers
        integer(c_int32_t) :: status
        status = count_of(c_eqp_model_n_layers, model, n_layers)
    end function

    !> The most values per atom a halo exchange of this model carries (size
    !> communication buffers with it); 0 for a model that never exchanges.
    function eqp_model_halo_width(model, width) result(status)
        type(c_ptr), intent(in) :: model
        integer, intent(out) :: width
        integer(c_int32_t) :: status
        status = count_of(c_eqp_model_halo_width, model, width)
    end function

    !> The model's architecture ("lennard-jones", ...); "" for a null model.
    function eqp_model_architecture(model) result(name)
        type(c_ptr), intent(in) :: model
        character(len=:), allocatable :: name
        name = c_string(c_eqp_model_architecture(model))
    end function

    !> The atomic numbers the model knows, in an array allocated here.
    function eqp_model_species(model, species) result(status)
        type(c_ptr), intent(in) :: model
        integer(c_int32_t), allocatable, intent(out), target :: species(:)
        integer(c_int32_t) :: status
        integer(c_size_t) :: n
        n = 0
        status = track(c_eqp_model_n_species(model, n))
        allocate(species(n))
        if (status /= EQP_SUCCESS) return
        status = track(c_eqp_model_species(model, n, loc_int(species)))
    end function

    !> Evaluates model on graph: energy (eV) always; forces(3, n_atoms) (eV/Å),
    !> virial(3, 3) (eV), atom_energies(n_atoms) and atom_virials(3, 3, n_atoms)
    !> when present. precision: EQP_FLOAT64 (default) or EQP_FLOAT32.
    function eqp_compute(model, graph, energy, forces, virial, atom_energies, atom_virials, workspace, precision) &
            result(status)
        type(c_ptr), intent(in) :: model, graph
        real(c_double), intent(out) :: energy
        real(c_double), intent(out), target, contiguous, optional :: forces(:, :)
        real(c_double), intent(out), target, optional :: virial(3, 3)
        real(c_double), intent(out), target, contiguous, optional :: atom_energies(:), atom_virials(:, :, :)
        type(c_ptr), intent(in), optional :: workspace
        integer(c_int32_t), intent(in), optional :: precision
        integer(c_int32_t) :: status
        status = evaluate("eqp_compute", model, graph, .false., c_null_funptr, c_null_ptr, energy, forces, virial, &
            atom_energies, atom_virials, workspace, precision)
    end function

    !> Evaluates model like eqp_compute on a graph of local atoms plus ghosts
    !> within one cutoff (eqp_graph_from_neighbor_list, rows for local atoms),
    !> getting the ghosts' node features from their owners through `exchange`,
    !> c_funloc of a bind(C) function with the interface eqp_halo_exchange,
    !> which gets `user_data` as it is (c_loc of the host's data, or
    !> c_null_ptr). Forces are returned for every atom: add the ghosts' to
    !> their owners. A failing exchange gives EQP_ERROR_CALLBACK.
    function eqp_compute_with_halo(model, graph, exchange, user_data, energy, forces, virial, atom_energies, &
            atom_virials, workspace, precision) result(status)
        type(c_ptr), intent(in) :: model, graph
        ! By value: gfortran would put c_funloc(f), a constant, in read-only
        ! data with an absolute address (a text relocation in a PIE).
        type(c_funptr), value :: exchange
        type(c_ptr), intent(in) :: user_data
        real(c_double), intent(out) :: energy
        real(c_double), intent(out), target, contiguous, optional :: forces(:, :)
        real(c_double), intent(out), target, optional :: virial(3, 3)
        real(c_double), intent(out), target, contiguous, optional :: atom_energies(:), atom_virials(:, :, :)
        type(c_ptr), intent(in), optional :: workspace
        integer(c_int32_t), intent(in), optional :: precision
        integer(c_int32_t) :: status
        status = evaluate("eqp_compute_with_halo", model, graph, .true., exchange, user_data, energy, forces, &
            virial, atom_energies, atom_virials, workspace, precision)
    end function

    !> eqp_compute (halo false) or eqp_compute_with_halo, after checking the
    !> output arrays' shapes against the graph.
    function evaluate(name, model, graph, halo, exchange, user_data, energy, forces, virial, atom_energies, &
            atom_virials, workspace, precision) result(status)
        character(len=*), intent(in) :: name
        type(c_ptr), intent(in) :: model, graph, user_data
        logical, intent(in) :: halo
        type(c_funptr), intent(in) :: exchange
        real(c_double), intent(out) :: energy
        real(c_double), intent(out), target, contiguous, optional :: forces(:, :)
        real(c_double), intent(out), target, optional :: virial(3, 3)
        real(c_double), intent(out), target, contiguous, optional :: atom_energies(:), atom_virials(:, :, :)
        type(c_ptr), intent(in), optional :: workspace
        integer(c_int32_t), intent(in), optional :: precision
        integer(c_int32_t) :: status
        type(eqp_outputs_t) :: out
        type(c_ptr) :: ws
        integer(c_int32_t) :: p
        integer :: n

        energy = 0
        status = eqp_graph_n_atoms(graph, n)
        if (status /= EQP_SUCCESS) return
        out%n_atoms = int(n, c_size_t)
        if (present(forces)) then
            if (any(shape(forces) /= [3, n])) then
                status = shape_error(name // ": forces must be (3, " // itoa(n) // ")")
                return
            end if
            out%forces = loc_real(forces)
        end if
        if (present(virial)) out%virial = c_loc(virial)
        if (present(atom_energies)) then
            if (size(atom_energies) /= n) then
                status = shape_error(name // ": atom_energies must have " // itoa(n) // " elements")
                return
            end if
            out%atom_energies = loc_real1(atom_energies)
        end if
        if (present(atom_virials)) then
            if (any(shape(atom_virials) /= [3, 3, n])) then
                status = shape_error(name // ": atom_virials must be (3, 3, " // itoa(n) // ")")
                return
            end if
            if (n > 0) out%atom_virials = c_loc(atom_virials)
        end if
        ws = or_null(workspace)
        p = EQP_FLOAT64
        if (present(precision)) p = precision
        if (halo) then
            status = track(c_eqp_compute_with_halo(model, graph, ws, p, exchange, user_data, out))
        else
            status = track(c_eqp_compute(model, graph, ws, p, out))
        end if
        energy = out%energy
    end function

    ! ------------------------------------------------------------- helpers

    !> Passes a status through; a call that reached the library supersedes
    !> any earlier wrapper-level message.
    integer(c_int32_t) function track(status)
        integer(c_int32_t), intent(in) :: status
        if (status /= EQP_SUCCESS .and. allocated(wrapper_error)) deallocate(wrapper_error)
        track = status
    end function

    !> A count from one of the library's count queries, as a default integer.
    function count_of(query, handle, count) result(status)
        procedure(c_count_query) :: query
        type(c_ptr), intent(in) :: handle
        integer, intent(out) :: count
        integer(c_int32_t) :: status
        integer(c_size_t) :: n
        n = 0
        status = track(query(handle, n))
        count = int(n)
    end function

    !> An optional handle, or NULL when it is absent.
    type(c_ptr) function or_null(handle)
        type(c_ptr), intent(in), optional :: handle
        or_null = c_null_ptr
        if (present(handle)) or_null = handle
    end function

    integer(c_int32_t) function shape_error(message)
        character(len=*), intent(in) :: message
        wrapper_error = message
        shape_error = EQP_ERROR_LENGTH_MISMATCH
    end function

    !> A C string as a Fortran string.
    function c_string(ptr) result(s)
        type(c_ptr), intent(in) :: ptr
        character(len=:), allocatable :: s
        character(kind=c_char), pointer :: chars(:)
        integer :: i, n
        if (.not. c_associated(ptr)) then
            s = ""
            return
        end if
        n = int(c_strlen(ptr))
        call c_f_pointer(ptr, chars, [n])
        allocate(character(len=n) :: s)
        do i = 1, n
            s(i:i) = chars(i)
        end do
    end function

    !> A Fortran string as a NUL-terminated C string.
    function c_chars(s) result(chars)
        character(len=*), intent(in) :: s
        character(kind=c_char), allocatable :: chars(:)
        integer :: i
        allocate(chars(len(s) + 1))
        do i = 1, len(s)
            chars(i) = s(i:i)
        end do
        chars(len(s) + 1) = c_null_char
    end function

    ! c_loc of an array, or NULL for an empty one (c_loc needs a non-empty array).
    type(c_ptr) function loc_real(x)
        real(c_double), intent(in), target, contiguous :: x(:, :)
        loc_real = c_null_ptr
        if (size(x) > 0) loc_real = c_loc(x)
    end function

    type(c_ptr) function loc_real1(x)
        real(c_double), intent(in), target, contiguous :: x(:)
        loc_real1 = c_null_ptr
        if (size(x) > 0) loc_real1 = c_loc(x)
    end function

    type(c_ptr) function loc_int(x)
        integer(c_int32_t), intent(in), target, contiguous :: x(:)
        loc_int = c_null_ptr
        if (size(x) > 0) loc_int = c_loc(x)
    end function

    function itoa(i) result(s)
        integer, intent(in) :: i
        character(len=:), allocatable :: s
        character(len=16) :: buffer
        write (buffer, "(i0)") i
        s = trim(buffer)
    end function

end module equipot
