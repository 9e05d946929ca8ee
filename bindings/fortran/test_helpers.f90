!> The bookkeeping of the Fortran tests (test_equipot.f90,
!> test_sevenn_halo.f90): checks counted as passed or failed, calls that must
!> succeed, and the closing "N passed, M failed" line.
module test_helpers
    use, intrinsic :: iso_c_binding, only: c_int32_t
    use equipot, only: EQP_SUCCESS, eqp_last_error
    implicit none
    private
    public :: check, require, finish

    !> Whether check prints the checks that pass too (failures always).
    logical, public :: show_passes = .false.
    integer :: passed = 0, failed = 0

contains

    subroutine check(ok, what)
        logical, intent(in) :: ok
        character(len=*), intent(in) :: what
        if (ok) then
            passed = passed + 1
            if (show_passes) print "(2a)", "ok   ", what
        else
            failed = failed + 1
            print "(2a)", "FAIL ", what
        end if
    end subroutine

    !> Stops the program unless the call returned EQP_SUCCESS.
    subroutine require(status, what)
        integer(c_int32_t), intent(in) :: status
        character(len=*), intent(in) :: what
        if (status /= EQP_SUCCESS) then
            print "(a, a, i0, 2a)", what, " failed with status ", status, ": ", eqp_last_error()
            error stop 1
        end if
    end subroutine

    !> Prints "N passed, M failed"; stops with an error if any check failed.
    subroutine finish()
        print "(i0, a, i0, a)", passed, " passed, ", failed, " failed"
        if (failed > 0) error stop 1
    end subroutine

end module test_helpers
