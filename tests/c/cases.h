/*
 * The runner of the C bad-input tests (bad_input.c, sevenn_bad_input.c): a
 * case is a function whose failed expectations set case_failed; run_cases
 * runs them all, prints one line per case and then "N passed, M failed".
 */
#ifndef EQUIPOT_TESTS_CASES_H
#define EQUIPOT_TESTS_CASES_H

#include <equipot.h>

#include <stdio.h>
#include <string.h>

static int case_failed;

#define EXPECT(cond)                                                              \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "  %s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            case_failed = 1;                                                      \
        }                                                                         \
    } while (0)

/* The call returned `want`, and the message starts with `function` and
 * contains `needle` (either "" for any). */
static void expect_error_at(eqp_status_t got, eqp_status_t want, const char *function, const char *needle, int line) {
    const char *message = eqp_last_error();
    if (got != want || strstr(message, function) != message || !strstr(message, needle)) {
        fprintf(stderr, "  line %d: status %d (want %d), message \"%s\"", line, (int)got, (int)want, message);
        if (want != EQP_SUCCESS) fprintf(stderr, " (want \"%s%s...%s...\")", function, *function ? ": " : "", needle);
        fputc('\n', stderr);
        case_failed = 1;
    }
}
#define EXPECT_OK(call) expect_error_at((call), EQP_SUCCESS, "", "", __LINE__)

struct test_case {
    const char *name;
    void (*run)(void);
};
#define CASE(f) {#f, f}

/* Runs every case; returns main's exit status. */
static int run_cases(const struct test_case *cases, size_t n_cases) {
    int passed = 0, failed = 0;
    for (size_t k = 0; k < n_cases; k++) {
        case_failed = 0;
        cases[k].run();
        /* No case may reach the panic guard: that would be a bug in equipot. */
        if (strstr(eqp_last_error(), "internal error")) {
            fprintf(stderr, "  caught panic: %s\n", eqp_last_error());
            case_failed = 1;
        }
        printf("%s %s\n", case_failed ? "FAIL" : "ok  ", cases[k].name);
        case_failed ? failed++ : passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
