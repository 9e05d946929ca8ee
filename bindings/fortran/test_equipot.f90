!> Tests the Fortran module equipot: a periodic Lennard-Jones system (rattled
!> fcc Ar, 3x3x3 triclinic supercell) against this program's own
!> O(N^2)-over-images loop; the same cluster through eqp_graph_build and
!> through a host neighbor list; the halo exchange of a one-layer model (never
!> called); and bad input reported with a message.

!> Halo exchange callbacks (bind(C) procedures must be module procedures).
module test_halo_callbacks
    use, intrinsic :: iso_c_binding
    implicit none
contains
    !> Counts its calls in the integer user_data points to, and fails.
    function failing_exchange(user_data, direction, values, n_atoms, width) bind(C) result(status)
        type(c_ptr), value :: user_data, values
        integer(c_int32_t), value :: direction
        integer(c_size_t), value :: n_atoms, width
        integer(c_int32_t) :: status
        integer(c_int), pointer :: calls
        call c_f_pointer(user_data, calls)
        calls = calls + 1
        status = 7
        ! (Uses every argument: -Wunused-dummy-argument is an error here.)
        if (direction < 0 .or. .not. c_associated(values) .and. n_atoms * width > 0) status = 8
    end function
end module test_halo_callbacks

program test_equipot
    use, intrinsic :: iso_c_binding
    use equipot
    use test_halo_callbacks
    use test_helpers
    implicit none

    integer, parameter :: n_cells = 3, n_atoms = 4 * n_cells**3
    real(c_double), parameter :: eps = 0.0104d0, sig = 3.40d0, cutoff = 8.0d0
    real(c_double) :: positions(3, n_atoms), cell(3, 3), forces(3, n_atoms), virial(3, 3)
    real(c_double) :: atom_energies(n_atoms), ref_forces(3, n_atoms), ref_virial(3, 3)
    real(c_double) :: energy, ref_energy
    integer(c_int32_t) :: numbers(n_atoms)
    type(c_ptr) :: ws, model, graph
    integer(c_size_t) :: limit

    call build_system(positions, numbers, cell)
    call check(eqp_check_abi() == EQP_SUCCESS, "the library has the module's C ABI version")
    call check(c_eqp_abi_version() == EQP_ABI_VERSION, "eqp_abi_version() is EQP_ABI_VERSION")
    call require(eqp_workspace_new(1, ws, memory_limit=123456789_c_size_t), "eqp_workspace_new with a memory limit")
    call require(eqp_workspace_memory_limit(ws, limit), "eqp_workspace_memory_limit")
    call check(limit == 123456789_c_size_t, "the memory limit is the one given")
    call eqp_workspace_free(ws)
    call require(eqp_workspace_new(2, ws), "eqp_workspace_new")
    call require(eqp_model_new_lennard_jones([18_c_int32_t], reshape([eps], [1, 1]), reshape([sig], [1, 1]), &
        cutoff, model), "eqp_model_new_lennard_jones")
    call check(eqp_version() == "0.1.0", "eqp_version() is the module's 0.1.0, got " // eqp_version())
    call check_model(model)

    ! Periodic system against the reference loop.
    call require(eqp_graph_build(positions, numbers, cutoff, graph, cell=cell, pbc=[.true., .true., .true.], &
        workspace=ws), "eqp_graph_build")
    call require(eqp_compute(model, graph, energy, forces=forces, virial=virial, atom_energies=atom_energies, &
        workspace=ws), "eqp_compute")
    call reference(positions, cell, ref_energy, ref_forces, ref_virial)
    call check(abs(energy - ref_energy) <= 1d-10 * abs(ref_energy), "energy matches the reference loop")
    call check(abs(sum(atom_energies) - energy) <= 1d-12 * abs(energy), "per-atom energies sum to the energy")
    call check(maxval(abs(forces - ref_forces)) <= 1d-10 * maxval(abs(ref_forces)), "forces match")
    call check(maxval(abs(virial - ref_virial)) <= 1d-10 * maxval(abs(ref_virial)), "virial matches")
    call check(maxval(abs(sum(forces, dim=2))) <= 1d-12 * n_atoms * maxval(abs(forces)), "forces sum to zero")
    call check_edges(graph)
    print "(a, i0, a, f16.10, a, f16.10, a)", "periodic fcc Ar, ", n_atoms, " atoms: energy ", energy, &
        " eV (reference ", ref_energy, ")"
    call eqp_graph_free(graph)
    call check(.not. c_associated(graph), "eqp_graph_free nullifies the handle")

    call cluster_through_neighbor_list()
    call halo_of_a_one_layer_model()
    call bad_input()

    call eqp_model_free(model)
    call eqp_workspace_free(ws)
    call finish()

contains

    subroutine build_system(pos, z, h)
        real(c_double), intent(out) :: pos(:, :), h(3, 3)
        integer(c_int32_t), intent(out) :: z(:)
        real(c_double), parameter :: a = 5.26d0
        real(c_double) :: basis(3, 4), f(3), noise(3)
        integer :: i, j, k, b, n
        basis = reshape([0d0, 0d0, 0d0, 0.5d0, 0.5d0, 0d0, 0.5d0, 0d0, 0.5d0, 0d0, 0.5d0, 0.5d0], [3, 4])
        ! Columns are the lattice vectors: a sheared cube.
        h = n_cells * a * reshape([1d0, 0d0, 0d0, 0.05d0, 1d0, 0d0, -0.07d0, 0.03d0, 1d0], [3, 3])
        n = 0
        do i = 0, n_cells - 1
            do j = 0, n_cells - 1
                do k = 0, n_cells - 1
                    do b = 1, 4
                        n = n + 1
                        f = ([i, j, k] + basis(:, b)) / n_cells
                        noise = [sin(1.3d0 * n), cos(2.1d0 * n), sin(0.7d0 * n + 1)]
                        pos(:, n) = matmul(h, f) + 0.1d0 * noise
                    end do
                end do
            end do
        end do
        z = 18
    end subroutine

    ! Every ordered pair and periodic image within the cutoff; each atom takes
    ! half of each pair's shifted LJ energy.
    subroutine reference(pos, h, e, f, w)
        real(c_double), intent(in) :: pos(:, :), h(3, 3)
        real(c_double), intent(out) :: e, f(:, :), w(3, 3)
        real(c_double) :: d(3), r2, s6, sc6, dphi_over_r, normal(3), volume
        integer :: i, j, a, b, c, k, reach(3)
        volume = abs(dot_product(h(:, 1), cross(h(:, 2), h(:, 3))))
        do k = 1, 3
            normal = cross(h(:, mod(k, 3) + 1), h(:, mod(k + 1, 3) + 1))
            reach(k) = ceiling(cutoff / (volume / norm2(normal)))
        end do
        sc6 = (sig / cutoff)**6
        e = 0
        f = 0
        w = 0
        do i = 1, size(pos, 2)
            do j = 1, size(pos, 2)
                do a = -reach(1), reach(1)
                    do b = -reach(2), reach(2)
                        do c = -reach(3), reach(3)
                            if (i == j .and. a == 0 .and. b == 0 .and. c == 0) cycle
                            d = pos(:, j) - pos(:, i) + a * h(:, 1) + b * h(:, 2) + c * h(:, 3)
                            r2 = dot_product(d, d)
                            if (r2 >= cutoff**2) cycle
                            s6 = (sig**2 / r2)**3
                            dphi_over_r = -24 * eps * (2 * s6**2 - s6) / r2
                            e = e + 0.5d0 * 4 * eps * (s6**2 - s6 - (sc6**2 - sc6))
                            f(:, i) = f(:, i) + dphi_over_r * d
                            do k = 1, 3
                                w(k, :) = w(k, :) - 0.5d0 * dphi_over_r * d(k) * d
                            end do
                        end do
                    end do
                end do
            end do
        end do
    end subroutine

    function cross(u, v) result(x)
        real(c_double), intent(in) :: u(3), v(3)
        real(c_double) :: x(3)
        x = [u(2) * v(3) - u(3) * v(2), u(3) * v(1) - u(1) * v(3), u(1) * v(2) - u(2) * v(1)]
    end function

    subroutine check_model(m)
        type(c_ptr), intent(in) :: m
        integer(c_int32_t), allocatable :: species(:)
        real(c_double) :: rc
        integer :: n_layers
        call require(eqp_model_species(m, species), "eqp_model_species")
        call require(eqp_model_cutoff(m, rc), "eqp_model_cutoff")
        call require(eqp_model_n_layers(m, n_layers), "eqp_model_n_layers")
        call check(size(species) == 1 .and. species(1) == 18 .and. abs(rc - cutoff) < 1d-12 .and. n_layers == 1 &
            .and. eqp_model_architecture(m) == "lennard-jones", "model queries")
    end subroutine

    subroutine check_edges(g)
        type(c_ptr), intent(in) :: g
        integer, allocatable :: centers(:), neighbors(:)
        integer(c_int32_t), allocatable :: shifts(:, :)
        real(c_double), allocatable :: vectors(:, :)
        integer :: n_edges, e
        logical :: consistent
        call require(eqp_graph_n_edges(g, n_edges), "eqp_graph_n_edges")
        call require(eqp_graph_edges(g, centers, neighbors, shifts, vectors), "eqp_graph_edges")
        call check(size(centers) == n_edges .and. all(shape(vectors) == [3, n_edges]), "edge arrays have n_edges")
        call check(minval(centers) == 1 .and. maxval(centers) == n_atoms, "edge centers are 1-based")
        consistent = .true.
        do e = 1, n_edges   ! vector = r_j - r_i + shifts . cell
            consistent = consistent .and. all(abs(vectors(:, e) - (positions(:, neighbors(e)) &
                - positions(:, centers(e)) + matmul(cell, real(shifts(:, e), c_double)))) < 1d-9)
        end do
        call check(consistent, "edge vectors are r_j - r_i + S . cell")
    end subroutine

    ! A 13-atom cluster (no cell): the library's own graph and a full host
    ! neighbor list (1-based CSR) give the same energy and forces.
    subroutine cluster_through_neighbor_list()
        integer, parameter :: n = 13
        real(c_double) :: pos(3, n), f1(3, n), f2(3, n), e1, e2
        integer(c_int32_t) :: z(n)
        integer :: offsets(n + 1), neighbors(n * (n - 1)), i, j, k
        type(c_ptr) :: g1, g2
        pos = positions(:, 1:n)
        z = 18
        k = 0
        offsets(1) = 1
        do i = 1, n
            do j = 1, n
                if (j /= i) then
                    k = k + 1
                    neighbors(k) = j   ! all pairs: the library keeps those within the cutoff
                end if
            end do
            offsets(i + 1) = k + 1
        end do
        call require(eqp_graph_build(pos, z, cutoff, g1), "eqp_graph_build (cluster)")
        call require(eqp_graph_from_neighbor_list(pos, z, n, offsets, neighbors, cutoff, g2), &
            "eqp_graph_from_neighbor_list")
        call require(eqp_compute(model, g1, e1, forces=f1), "eqp_compute (cluster)")
        call require(eqp_compute(model, g2, e2, forces=f2), "eqp_compute (neighbor list)")
        call check(abs(e1 - e2) <= 1d-12 * abs(e1) .and. maxval(abs(f1 - f2)) <= 1d-12 * maxval(abs(f1)), &
            "cluster: built graph and host neighbor list agree")
        call eqp_graph_free(g1)
        call eqp_graph_free(g2)
    end subroutine

    ! Lennard-Jones has one layer: halo width 0, eqp_compute_with_halo never
    ! calls the exchange (which would fail) and gives eqp_compute's results.
    subroutine halo_of_a_one_layer_model()
        real(c_double) :: f1(3, n_atoms), f2(3, n_atoms), w1(3, 3), w2(3, 3), e1, e2, small(3, 2)
        integer(c_int), target :: calls
        integer(c_int32_t) :: status
        integer :: width
        type(c_ptr) :: g
        procedure(eqp_halo_exchange), pointer :: check_interface
        check_interface => failing_exchange   ! the callback has the documented interface
        call require(eqp_model_halo_width(model, width), "eqp_model_halo_width")
        call check(width == 0, "a one-layer model has halo width 0")
        call require(eqp_graph_build(positions, numbers, cutoff, g, cell=cell, pbc=[.true., .true., .true.], &
            workspace=ws), "eqp_graph_build (halo)")
        calls = 0
        call require(eqp_compute(model, g, e1, forces=f1, virial=w1, workspace=ws), "eqp_compute (halo)")
        call require(eqp_compute_with_halo(model, g, c_funloc(failing_exchange), c_loc(calls), e2, forces=f2, &
            virial=w2, workspace=ws), "eqp_compute_with_halo")
        call check(calls == 0, "a one-layer model never calls the halo exchange")
        ! Bit for bit (-Wcompare-reals forbids ==): the same code path.
        call check(abs(e1 - e2) <= 0 .and. maxval(abs(f1 - f2)) <= 0 .and. maxval(abs(w1 - w2)) <= 0 &
            .and. abs(e1) > 0, &
            "eqp_compute_with_halo equals eqp_compute for a one-layer model")
        status = eqp_compute_with_halo(model, g, c_null_funptr, c_null_ptr, e2)
        call check(status == EQP_ERROR_NULL_POINTER .and. index(eqp_last_error(), "`exchange` is NULL") > 0, &
            "NULL exchange is reported: " // eqp_last_error())
        status = eqp_compute_with_halo(model, g, c_funloc(failing_exchange), c_loc(calls), e2, forces=small)
        call check(status == EQP_ERROR_LENGTH_MISMATCH .and. &
            index(eqp_last_error(), "eqp_compute_with_halo: forces must be (3, 108)") > 0, &
            "forces of the wrong shape are reported: " // eqp_last_error())
        status = eqp_model_halo_width(c_null_ptr, width)
        call check(status == EQP_ERROR_NULL_POINTER .and. index(eqp_last_error(), "`model` is NULL") > 0, &
            "NULL model for eqp_model_halo_width is reported: " // eqp_last_error())
        call eqp_graph_free(g)
    end subroutine

    subroutine bad_input()
        real(c_double) :: pos(3, n_atoms), small(3, n_atoms - 1), e, c
        integer(c_int32_t) :: status
        type(c_ptr) :: g, m
        integer :: unit
        ! A NaN coordinate: the library's status and message.
        pos = positions
        pos(2, 5) = ieee_nan()
        status = eqp_graph_build(pos, numbers, cutoff, g, cell=cell, pbc=[.true., .true., .true.])
        call check(status == EQP_ERROR_INVALID_ARGUMENT, "NaN position gives EQP_ERROR_INVALID_ARGUMENT")
        call check(index(eqp_last_error(), "position of atom 4 is not finite") > 0, &
            "NaN position message names the atom: " // eqp_last_error())
        call check(.not. c_associated(g), "no graph on failure")
        ! An unknown element, 0-based index in the library's message.
        status = eqp_graph_build(positions, [numbers(1:n_atoms - 1), 0_c_int32_t], cutoff, g, cell=cell, &
            pbc=[.true., .true., .true.])
        call check(status == EQP_ERROR_UNKNOWN_ELEMENT .and. index(eqp_last_error(), "atomic number 0") > 0, &
            "atomic number 0 is reported: " // eqp_last_error())
        ! A shape mismatch caught by the wrapper itself.
        small = positions(:, 1:n_atoms - 1)
        status = eqp_graph_build(small, numbers, cutoff, g)
        call check(status == EQP_ERROR_LENGTH_MISMATCH .and. index(eqp_last_error(), "positions must be (3, n)") > 0, &
            "shape mismatch is reported: " // eqp_last_error())
        ! Model files: a JSON Lennard-Jones description loads; a modal for a
        ! model without modals and a missing file are reported.
        open(newunit=unit, file="test_equipot_lj.json", status="replace", action="write")
        write (unit, "(a)") '{"equipot": {"format_version": "1.0", "architecture": "lennard-jones", ' // &
            '"species": [18], "cutoff": 8.0, "epsilon": [[0.0104]], "sigma": [[3.4]]}}'
        close(unit)
        call check(eqp_model_load("test_equipot_lj.json", m) == EQP_SUCCESS, "eqp_model_load reads a JSON model")
        call check(eqp_model_cutoff(m, c) == EQP_SUCCESS .and. abs(c - 8.0d0) < 1d-12, "the loaded model's cutoff is 8 Å")
        call eqp_model_free(m)
        status = eqp_model_load("test_equipot_lj.json", m, modal="PBE")
        call check(status == EQP_ERROR_INVALID_ARGUMENT .and. index(eqp_last_error(), "has none") > 0, &
            "a modal for a model without modals is reported: " // eqp_last_error())
        call check(.not. c_associated(m), "no model on failure")
        open(newunit=unit, file="test_equipot_lj.json")
        close(unit, status="delete")
        status = eqp_model_load("/nonexistent/model.eqp.safetensors", m)
        call check(status == EQP_ERROR_IO .and. index(eqp_last_error(), "cannot read") > 0, &
            "a missing model file is reported: " // eqp_last_error())
        ! A NULL graph handle through the module.
        status = eqp_compute(model, c_null_ptr, e)
        call check(status == EQP_ERROR_NULL_POINTER .and. index(eqp_last_error(), "`graph` is NULL") > 0, &
            "NULL graph is reported: " // eqp_last_error())
    end subroutine

    function ieee_nan() result(x)
        use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan
        real(c_double) :: x
        x = ieee_value(x, ieee_quiet_nan)
    end function

end program test_equipot
