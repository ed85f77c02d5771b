/*
 * Prints uhn's SSIM of image pairs, for ssim_reference.py to compare with
 * skimage. Usage: ssim_pairs FILE. FILE holds four int64 (n, H, W, C) then n
 * pairs of float32 [H][W][C] images (x, then y), native byte order. Prints one
 * SSIM per pair ("%.17g") on standard output; exit 1 on a bad file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "uhn/metrics.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ssim_pairs FILE\n");
        return 1;
    }
    FILE *f = fopen(argv[1], "rb");
    int64_t hdr[4];
    if (!f || fread(hdr, sizeof hdr[0], 4, f) != 4) {
        fprintf(stderr, "ssim_pairs: cannot read %s\n", argv[1]);
        return 1;
    }
    int64_t n = hdr[0], h = hdr[1], w = hdr[2], c = hdr[3], k = h * w * c;
    const char *bad = uhn_ssim_check(h, w);
    if (bad || n < 0 || c < 1) {
        fprintf(stderr, "ssim_pairs: bad header in %s: %s\n", argv[1], bad ? bad : "n or C");
        return 1;
    }
    float *x = malloc((size_t)k * sizeof(float)), *y = malloc((size_t)k * sizeof(float));
    double *work = malloc((size_t)uhn_ssim_work_size(h, w) * sizeof(double));
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; ++i) {
        if (fread(x, sizeof(float), (size_t)k, f) != (size_t)k ||
            fread(y, sizeof(float), (size_t)k, f) != (size_t)k) {
            fprintf(stderr, "ssim_pairs: %s ends before pair %lld\n", argv[1], (long long)i);
            rc = 1;
        } else {
            printf("%.17g\n", uhn_ssim(x, y, h, w, c, work));
        }
    }
    free(x), free(y), free(work);
    fclose(f);
    return rc;
}
