/*
 * The runner of the C bad-input tests (bad_input.c, sevenn_bad_input.c): a
 * case is a function whose failed expectations set case_failed; run_cases
 * runs them all, prints one line per case and then "N passed, M failed".
 */
#ifndef EQUIPOT_TESTS_CASES_H
#define EQUIPOT_TESTS_CASES_H

#include <equipot.h>

#include <stdio.h>
#include <stdlib.h>
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

/* Reads a whole file into a buffer with 16 spare bytes; *size gets its
 * length. NULL if it cannot be read. */
static inline unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(*size + 16);
    if (data && fread(data, 1, *size, f) != *size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

/* Replaces the first `from` (at or after byte 8, within `limit` bytes) of
 * data[0..n) by `to`, of the same length; a missing match fails the case. */
static inline void replace_once(unsigned char *data, size_t n, size_t limit, const char *from, const char *to) {
    size_t len = strlen(from);
    EXPECT(len == strlen(to));
    unsigned char *hit = NULL;
    for (size_t i = 8; i + len <= n && i < limit && !hit; i++) {
        if (memcmp(data + i, from, len) == 0) hit = data + i;
    }
    EXPECT(hit != NULL);
    if (hit) memcpy(hit, to, len);
}

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
