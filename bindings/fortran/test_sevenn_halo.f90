!> The halo exchange through the Fortran module with SevenNet-0 (5 layers): a
!> small periodic cell whose images within one cutoff become ghosts with an
!> owner, evaluated with eqp_compute_with_halo and a bind(C) exchange that
!> copies owners to ghosts (forward) and adds ghosts into owners (reverse).
!> With ghost forces added to their owners, energy, forces and virial must be
!> those of the periodic evaluation; a failing exchange gives
!> EQP_ERROR_CALLBACK. Usage: test_sevenn_halo MODELS_DIR.

!> The exchange and its data (user_data points to a halo_t).
module sevenn_halo_exchange
    use, intrinsic :: iso_c_binding
    use equipot, only: EQP_HALO_FORWARD, EQP_HALO_REVERSE
    implicit none

    type :: halo_t
        integer :: n_local = 0
        integer, allocatable :: owner(:)        ! owner(g): the local atom ghost n_local + g images
        integer :: n_calls = 0, fail_at = 0     ! fail_at: the call that fails (0: none)
        integer(c_int32_t) :: directions(100) = -1
        integer(c_size_t) :: n_atoms = 0, max_width = 0
    end type

contains

    function image_exchange(user_data, direction, values, n_atoms, width) bind(C) result(status)
        type(c_ptr), value :: user_data, values
        integer(c_int32_t), value :: direction
        integer(c_size_t), value :: n_atoms, width
        integer(c_int32_t) :: status
        type(halo_t), pointer :: h
        real(c_double), pointer :: v(:, :)
        integer :: g, ghost

        call c_f_pointer(user_data, h)
        h%n_calls = h%n_calls + 1
        if (h%n_calls <= size(h%directions)) h%directions(h%n_calls) = direction
        h%n_atoms = n_atoms
        h%max_width = max(h%max_width, width)
        status = 0
        if (h%n_calls == h%fail_at) then
            status = 5
            return
        end if
        if (n_atoms * width == 0) return
        ! Row-major n_atoms x width is column-major (width, n_atoms): v(:, i) is atom i.
        call c_f_pointer(values, v, [width, n_atoms])
        do g = 1, size(h%owner)
            ghost = h%n_local + g
            if (direction == EQP_HALO_FORWARD) then
                v(:, ghost) = v(:, h%owner(g))
            else if (direction == EQP_HALO_REVERSE) then
                v(:, h%owner(g)) = v(:, h%owner(g)) + v(:, ghost)
            else
                status = 2
            end if
        end do
    end function

end module sevenn_halo_exchange

program test_sevenn_halo
    use, intrinsic :: iso_c_binding
    use equipot
    use sevenn_halo_exchange
    use test_helpers
    implicit none

    integer, parameter :: n = 7
    real(c_double) :: positions(3, n), cell(3, 3), forces(3, n), virial(3, 3), energy, cutoff
    real(c_double), allocatable :: halo_forces(:, :)
    real(c_double) :: halo_virial(3, 3), halo_energy
    integer(c_int32_t) :: numbers(n), status
    type(halo_t), target :: halo
    type(c_ptr) :: model, ws, periodic, graph
    character(len=4096) :: dir
    integer :: layers, width, n_all, g

    if (command_argument_count() /= 1) then
        print "(a)", "usage: test_sevenn_halo MODELS_DIR"
        error stop 2
    end if
    call get_command_argument(1, dir)
    show_passes = .true.
    call require(eqp_model_load(trim(dir) // "/SevenNet_0__11Jul2024.eqp.safetensors", model), "eqp_model_load")
    call require(eqp_model_cutoff(model, cutoff), "eqp_model_cutoff")
    call require(eqp_model_n_layers(model, layers), "eqp_model_n_layers")
    call require(eqp_model_halo_width(model, width), "eqp_model_halo_width")
    call check(layers == 5 .and. width > 0, "SevenNet-0: 5 layers and a halo width")
    call require(eqp_workspace_new(2, ws), "eqp_workspace_new")

    ! A rattled SiO2C cell (columns are the lattice vectors), smaller than
    ! twice the cutoff: atoms see several images of each other.
    cell = reshape([4.9d0, 0d0, 0d0, 1.3d0, 4.6d0, 0d0, -0.8d0, 0.9d0, 5.2d0], [3, 3])
    positions = reshape([0.05d0, -0.08d0, 0.11d0, 3.12d0, 2.21d0, 0.07d0, 1.36d0, 1.42d0, 1.41d0, &
        3.57d0, 1.87d0, 2.93d0, 2.27d0, 3.74d0, 3.17d0, 0.17d0, 2.83d0, 2.52d0, 2.31d0, 0.77d0, 4.12d0], [3, n])
    numbers = [14, 14, 8, 8, 8, 6, 14]
    call require(eqp_graph_build(positions, numbers, cutoff, periodic, cell=cell, pbc=[.true., .true., .true.], &
        workspace=ws), "eqp_graph_build")
    call require(eqp_compute(model, periodic, energy, forces=forces, virial=virial, workspace=ws), "eqp_compute")
    call images_as_ghosts(periodic, graph, halo)
    n_all = n + size(halo%owner)
    call check(size(halo%owner) > 3 * n, "images within one cutoff are ghosts")

    allocate(halo_forces(3, n_all))
    call require(eqp_compute_with_halo(model, graph, c_funloc(image_exchange), c_loc(halo), halo_energy, &
        forces=halo_forces, virial=halo_virial, workspace=ws), "eqp_compute_with_halo")
    call check(halo%n_calls == 2 * layers .and. all(halo%directions(1:layers) == EQP_HALO_FORWARD) .and. &
        all(halo%directions(layers + 1:2 * layers) == EQP_HALO_REVERSE), &
        "one forward exchange per layer, then one reverse per layer")
    call check(halo%n_atoms == int(n_all, c_size_t) .and. halo%max_width <= int(width, c_size_t), &
        "exchanges get every atom's row, at most halo width values each")
    do g = 1, size(halo%owner)
        halo_forces(:, halo%owner(g)) = halo_forces(:, halo%owner(g)) + halo_forces(:, n + g)
    end do
    print "(a, f18.12, a, es8.1, a, es8.1, a, es8.1)", "     periodic energy ", energy, " eV; dE ", &
        abs(halo_energy - energy), ", dF ", maxval(abs(halo_forces(:, 1:n) - forces)), ", dW ", &
        maxval(abs(halo_virial - virial))
    call check(abs(halo_energy - energy) <= 1d-10 * abs(energy), "energy equals the periodic energy")
    call check(maxval(abs(halo_forces(:, 1:n) - forces)) <= 1d-10 * maxval(abs(forces)), &
        "forces, ghosts folded into owners, equal the periodic forces")
    call check(maxval(abs(halo_virial - virial)) <= 1d-10 * maxval(abs(virial)), "virial equals the periodic virial")

    ! A failing exchange (the 7th call, a reverse one) stops the evaluation.
    halo%n_calls = 0
    halo%fail_at = layers + 2
    status = eqp_compute_with_halo(model, graph, c_funloc(image_exchange), c_loc(halo), halo_energy, &
        forces=halo_forces, workspace=ws)
    call check(status == EQP_ERROR_CALLBACK .and. index(eqp_last_error(), "callback returned 5") > 0 .and. &
        halo%n_calls == layers + 2, "a failing exchange gives EQP_ERROR_CALLBACK: " // eqp_last_error())

    call eqp_graph_free(graph)
    call eqp_graph_free(periodic)
    call eqp_workspace_free(ws)
    call eqp_model_free(model)
    call finish()

contains

    !> The graph a single rank would pass: local atoms, then one ghost per
    !> (atom, image shift) of the periodic graph's edges, with neighbor rows
    !> for local atoms only; halo%owner(g) is ghost g's local atom.
    subroutine images_as_ghosts(periodic_graph, halo_graph, h)
        type(c_ptr), intent(in) :: periodic_graph
        type(c_ptr), intent(out) :: halo_graph
        type(halo_t), intent(inout) :: h
        integer, allocatable :: centers(:), neighbors(:), offsets(:), index_of(:), owner(:)
        integer(c_int32_t), allocatable :: shifts(:, :), ghost_shift(:, :), all_numbers(:)
        real(c_double), allocatable :: all_positions(:, :)
        integer :: e, g, k, n_edges, n_ghosts

        call require(eqp_graph_edges(periodic_graph, centers=centers, neighbors=neighbors, shifts=shifts), &
            "eqp_graph_edges")
        n_edges = size(centers)
        allocate(index_of(n_edges), owner(n_edges), ghost_shift(3, n_edges), offsets(n + 1))
        n_ghosts = 0
        do e = 1, n_edges
            index_of(e) = neighbors(e)
            if (all(shifts(:, e) == 0)) cycle
            g = findloc([(owner(k) == neighbors(e) .and. all(ghost_shift(:, k) == shifts(:, e)), k = 1, n_ghosts)], &
                .true., dim=1)   ! 0: a new image
            if (g == 0) then
                n_ghosts = n_ghosts + 1
                g = n_ghosts
                owner(g) = neighbors(e)
                ghost_shift(:, g) = shifts(:, e)
            end if
            index_of(e) = n + g
        end do
        ! Edges are sorted by center: 1-based CSR offsets.
        offsets(1) = 1
        do e = 1, n
            offsets(e + 1) = offsets(e) + count(centers == e)
        end do
        allocate(all_positions(3, n + n_ghosts), all_numbers(n + n_ghosts))
        all_positions(:, 1:n) = positions
        all_numbers(1:n) = numbers
        do g = 1, n_ghosts
            all_positions(:, n + g) = positions(:, owner(g)) + matmul(cell, real(ghost_shift(:, g), c_double))
            all_numbers(n + g) = numbers(owner(g))
        end do
        call require(eqp_graph_from_neighbor_list(all_positions, all_numbers, n, offsets, index_of, cutoff, &
            halo_graph), "eqp_graph_from_neighbor_list")
        h%n_local = n
        h%owner = owner(1:n_ghosts)
    end subroutine

end program test_sevenn_halo
