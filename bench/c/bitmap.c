/* Memory-bandwidth reference for the userfault bitmap benchmark: the same scan and clear as
 * impl/util/bitmap.ts, over the same 32-bit words, as a plain C loop, and a plain read of every word. Prints JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: bitmap PAGES SET_EVERY\n");
		return 2;
	}
	uint64_t pages = strtoull(argv[1], 0, 10);
	uint64_t every = strtoull(argv[2], 0, 10);
	uint64_t nwords = (pages + 31) / 32;
	uint32_t *w = calloc(nwords, sizeof *w);
	if (!w)
		return 1;
	for (uint64_t i = 0; i < pages; i += every)
		w[i / 32] |= 1u << (i % 32);
	/* Scan: count runs of set bits, skipping zero words, as Bitmap.runs() does. */
	double t0 = now_ms();
	uint64_t runs = 0;
	int in_run = 0;
	for (uint64_t i = 0; i < nwords; i++) {
		uint32_t x = w[i];
		if (x == 0 && !in_run)
			continue;
		if (x == 0xffffffffu && in_run)
			continue;
		for (int b = 0; b < 32; b++) {
			int on = (x >> b) & 1;
			if (on && !in_run) {
				in_run = 1;
				runs++;
			} else if (!on && in_run) {
				in_run = 0;
			}
		}
	}
	double t1 = now_ms();
	/* Read bandwidth: an OR over every word, which gcc vectorizes; no scan can beat it. */
	uint32_t any = 0;
	for (uint64_t i = 0; i < nwords; i++)
		any |= w[i];
	double t2 = now_ms();
	memset(w, 0, nwords * sizeof *w);
	double t3 = now_ms();
	volatile uint32_t sink = w[nwords / 2] | any;
	(void)sink;
	printf("{\"pages\":%llu,\"runs\":%llu,\"scanMs\":%.3f,\"readMs\":%.3f,\"clearMs\":%.3f}\n", (unsigned long long)pages, (unsigned long long)runs, t1 - t0, t2 - t1, t3 - t2);
	free(w);
	return 0;
}
