/*
 * Corrupted or absurd model files through the C ABI (docs/model-format.md,
 * "Reader rules"): each must fail eqp_model_load with
 * EQP_ERROR_MODEL_FORMAT and a message naming the problem — never load,
 * abort or crash. Representative cases of tests/model_file_errors.rs;
 * the Lennard-Jones files are written here, the MACE cases edit the
 * committed fixture tests/fixtures/mace/models/mp0_l1.eqp.safetensors (run
 * from the repository root); and the head of a multi-head MACE model,
 * chosen with eqp_model_load_modal (an unknown or missing head is
 * EQP_ERROR_INVALID_ARGUMENT listing the heads). The last line is
 * "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "cases.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPECT_ERROR(call, status, function, needle) expect_error_at((call), (status), (function), (needle), __LINE__)

static const char *const MACE = "tests/fixtures/mace/models/mp0_l1.eqp.safetensors";
static char scratch[2048];

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    EXPECT(f != NULL);
    if (!f) return;
    EXPECT(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* Loads `path`: the call must fail with EQP_ERROR_MODEL_FORMAT, a message
 * containing `needle`, and leave the handle NULL. */
static void expect_model_format(const char *path, const char *needle, int line) {
    eqp_model_t *model = (eqp_model_t *)&case_failed;
    expect_error_at(eqp_model_load(path, &model), EQP_ERROR_MODEL_FORMAT, "eqp_model_load", needle, line);
    if (model != NULL) {
        fprintf(stderr, "  line %d: the model handle was not set to NULL\n", line);
        case_failed = 1;
    }
}

static void lj_file(const char *name, const char *species, const char *cutoff, char *path, size_t size) {
    snprintf(path, size, "%s/%s", scratch, name);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"equipot\": {\"format_version\": \"1.0\", \"architecture\": \"lennard-jones\", \"species\": %s, "
             "\"cutoff\": %s, \"epsilon\": [[0.0104, 0.0125], [0.0125, 0.015]], \"sigma\": [[3.4, 3.5], [3.5, 3.6]]}}",
             species, cutoff);
    write_file(path, text, strlen(text));
}

/* The MACE fixture with `from` replaced by `to` (same length) in its header,
 * and `extra` bytes of zeros appended. */
static void mace_variant(const char *name, const char *from, const char *to, size_t extra, char *path, size_t size) {
    size_t n = 0;
    unsigned char *data = slurp(MACE, &n);
    EXPECT(data != NULL);
    if (!data) return;
    if (from) replace_once(data, n, n, from, to);
    memset(data + n, 0, extra);
    snprintf(path, size, "%s/%s", scratch, name);
    write_file(path, data, n + extra);
    free(data);
}

/* ------------------------------------------------------------------ cases */

static void valid_files_load(void) {
    char path[4096];
    lj_file("lj.json", "[18, 36]", "8.5", path, sizeof path);
    eqp_model_t *model = NULL;
    EXPECT_OK(eqp_model_load(path, &model));
    eqp_model_free(model);
    model = NULL;
    EXPECT_OK(eqp_model_load(MACE, &model));
    eqp_model_free(model);
}

static void absurd_cutoff(void) {
    char path[4096];
    lj_file("cutoff.json", "[18, 36]", "1e6", path, sizeof path);
    expect_model_format(path, "\"cutoff\" must be a number in [1, 20], found 1000000", __LINE__);
    lj_file("cutoff-huge.json", "[18, 36]", "1e308", path, sizeof path);
    expect_model_format(path, "\"cutoff\" must be a number in [1, 20]", __LINE__);
}

static void duplicated_species(void) {
    char path[4096];
    lj_file("species.json", "[18, 18]", "8.5", path, sizeof path);
    expect_model_format(path, "\"species\" lists atomic number 18 twice", __LINE__);
    lj_file("species-zero.json", "[0, 36]", "8.5", path, sizeof path);
    expect_model_format(path, "not an atomic number in 1..=118", __LINE__);
}

/* Was EQP_ERROR_UNSUPPORTED: format 1.1 allows only false. */
static void bias_in_linear_layers(void) {
    char path[4096];
    mace_variant("bias.eqp.safetensors", "\\\"use_bias_in_linear\\\": false", "\\\"use_bias_in_linear\\\": true ", 0,
                 path, sizeof path);
    expect_model_format(path, "\"use_bias_in_linear\" is true", __LINE__);
}

/* A NaN written over the 8 bytes of `scale_shift.scale`, located from the header. */
static void nan_scale(void) {
    size_t n = 0;
    unsigned char *data = slurp(MACE, &n);
    EXPECT(data != NULL && n > 8);
    if (!data) return;
    uint64_t header = 0;
    for (int k = 7; k >= 0; k--) header = header << 8 | data[k];
    char *text = malloc(header + 1);
    memcpy(text, data + 8, header);
    text[header] = 0;
    const char *entry = strstr(text, "\"scale_shift.scale\"");
    const char *offsets = entry ? strstr(entry, "\"data_offsets\":") : NULL;
    size_t begin = 0, end = 0;
    EXPECT(offsets && sscanf(offsets, "\"data_offsets\": [%zu, %zu]", &begin, &end) == 2 && end == begin + 8);
    double nan = NAN;
    if (end == begin + 8) memcpy(data + 8 + header + begin, &nan, 8);
    char path[4096];
    snprintf(path, sizeof path, "%s/nan.eqp.safetensors", scratch);
    write_file(path, data, n);
    free(text);
    free(data);
    expect_model_format(path, "tensor \"scale_shift.scale\" (shape [1]) holds NaN at flat index 0", __LINE__);
}

static void trailing_bytes(void) {
    char path[4096];
    mace_variant("trailing.eqp.safetensors", NULL, NULL, 8, path, sizeof path);
    expect_model_format(path, "8 trailing bytes", __LINE__);
}

static void mace_heads(void) {
    const char *three = "tests/fixtures/mace/models/mh_residual.eqp.safetensors";
    const char *two = "tests/fixtures/mace/models/mh_density_f32.eqp.safetensors";
    eqp_model_t *model = NULL;
    EXPECT_ERROR(eqp_model_load_modal(three, "PBE", &model), EQP_ERROR_INVALID_ARGUMENT, "eqp_model_load_modal",
                 "unknown modal \"PBE\": this model has [\"pbe_mp\", \"r2scan\", \"Default\"]");
    EXPECT(model == NULL);
    EXPECT_ERROR(eqp_model_load_modal(two, NULL, &model), EQP_ERROR_INVALID_ARGUMENT, "eqp_model_load_modal",
                 "this model needs a modal, one of [\"omat\", \"spice\"]");
    EXPECT(model == NULL);
    EXPECT_OK(eqp_model_load_modal(two, "spice", &model));
    eqp_model_free(model);
    model = NULL;
    EXPECT_OK(eqp_model_load(three, &model)); /* its default head, "Default" */
    eqp_model_free(model);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/equipot-model-file-errors-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    static const struct test_case cases[] = {
        CASE(valid_files_load), CASE(absurd_cutoff),  CASE(duplicated_species),
        CASE(bias_in_linear_layers), CASE(nan_scale), CASE(trailing_bytes), CASE(mace_heads),
    };
    int status = run_cases(cases, sizeof cases / sizeof cases[0]);
    /* The scratch files are left for inspection on failure. */
    return status;
}
