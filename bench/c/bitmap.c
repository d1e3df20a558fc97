/* The C yardstick for the userfault bitmap benchmark (bench/scale.ts). Two scans, each recording every run of set
 * bits (start, end) as Bitmap.runs() does:
 *  - flat: the best scan of a bare bitmap we could write: 64-bit words, eight at a time OR-ed (or AND-ed inside a
 *    run) to skip empty (full) stretches, then run starts and ends found with ctz on v & ~(v << 1 | carry);
 *  - summary: impl/util/bitmap.ts's algorithm, groups of 8 32-bit words with an any-set and an all-set bit each,
 *    the summary searched with ctz and the words of a group walked with ctz as the TypeScript does.
 * Then a plain read of every word (gcc vectorises it: the bandwidth floor) and a clear of the whole bitmap.
 * Prints JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROUP_SHIFT 3 /* 32-bit words per group: 8, as impl/util/bitmap.ts */

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint64_t *run_start, *run_end;
static uint64_t nruns;

static void record(uint64_t start, uint64_t end)
{
	run_start[nruns] = start;
	run_end[nruns] = end;
	nruns++;
}

static void scan_flat(const uint64_t *w, uint64_t n, uint64_t bits)
{
	uint64_t carry = 0; /* the previous bit: inside a run */
	uint64_t start = 0;
	nruns = 0;
	for (uint64_t i = 0; i < n;) {
		if (!carry) {
			while (i + 8 <= n && (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) == 0)
				i += 8;
		} else {
			while (i + 8 <= n && (w[i] & w[i + 1] & w[i + 2] & w[i + 3] & w[i + 4] & w[i + 5] & w[i + 6] & w[i + 7]) == ~0ull)
				i += 8;
		}
		if (i >= n)
			break;
		uint64_t v = w[i];
		uint64_t prev = (v << 1) | carry;
		uint64_t starts = v & ~prev, ends = ~v & prev;
		/* Starts and ends alternate: take them in bit order. */
		while (starts | ends) {
			uint64_t s = starts ? (uint64_t)__builtin_ctzll(starts) : 64;
			uint64_t e = ends ? (uint64_t)__builtin_ctzll(ends) : 64;
			if (s < e) {
				start = i * 64 + s;
				starts &= starts - 1;
			} else {
				record(start, i * 64 + e);
				ends &= ends - 1;
			}
		}
		carry = v >> 63;
		i++;
	}
	if (carry)
		record(start, bits);
}

/* The first group at or after g with a set bit (in_run 0) or a clear bit (in_run 1); ngroups if none. */
static uint64_t next_group(const uint32_t *any, const uint32_t *full, uint64_t nsum, uint64_t ngroups, uint64_t g, int in_run)
{
	const uint32_t *sum = in_run ? full : any;
	uint32_t flip = in_run ? ~0u : 0;
	uint64_t s = g >> 5;
	if (s >= nsum)
		return ngroups;
	uint32_t m = (sum[s] ^ flip) & (~0u << (g & 31));
	while (!m) {
		if (++s >= nsum)
			return ngroups;
		m = sum[s] ^ flip;
	}
	uint64_t r = s * 32 + __builtin_ctz(m);
	return r < ngroups ? r : ngroups;
}

static void scan_summary(const uint32_t *w, uint64_t n, uint64_t bits, const uint32_t *any, const uint32_t *full, uint64_t nsum, uint64_t ngroups)
{
	int64_t start = -1;
	nruns = 0;
	for (uint64_t g = next_group(any, full, nsum, ngroups, 0, 0); g < ngroups; g = next_group(any, full, nsum, ngroups, g + 1, start >= 0)) {
		uint64_t end = (g + 1) << GROUP_SHIFT;
		if (end > n)
			end = n;
		for (uint64_t i = g << GROUP_SHIFT; i < end; i++) {
			uint32_t v = w[i];
			if (start < 0 ? v == 0 : v == ~0u)
				continue;
			for (unsigned pos = 0; pos < 32;) {
				uint32_t rest = v >> pos;
				if (start < 0) {
					if (!rest)
						break;
					unsigned b = __builtin_ctz(rest);
					start = i * 32 + pos + b;
					pos += b;
				} else {
					uint32_t zeros = ~rest;
					if (!zeros)
						break;
					unsigned b = __builtin_ctz(zeros);
					if (pos + b >= 32)
						break;
					record(start, i * 32 + pos + b);
					start = -1;
					pos += b;
				}
			}
		}
	}
	if (start >= 0)
		record(start, bits);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bitmap PAGES SET_EVERY\n");
		return 2;
	}
	uint64_t pages = strtoull(argv[1], 0, 10);
	uint64_t every = strtoull(argv[2], 0, 10);
	uint64_t n64 = (pages + 63) / 64, n32 = (pages + 31) / 32;
	uint64_t ngroups = (n32 + (1u << GROUP_SHIFT) - 1) >> GROUP_SHIFT, nsum = (ngroups + 31) / 32;
	uint64_t *w = calloc(n64, sizeof *w);
	uint32_t *any = calloc(nsum, sizeof *any), *full = calloc(nsum, sizeof *full);
	run_start = malloc((pages / every + 2) * sizeof *run_start);
	run_end = malloc((pages / every + 2) * sizeof *run_end);
	if (!w || !any || !full || !run_start || !run_end)
		return 1;
	const uint32_t *w32 = (const uint32_t *)w; /* little-endian: word i of 32 bits is bits 32i..32i+31 */
	for (uint64_t i = 0; i < pages; i += every) {
		w[i / 64] |= 1ull << (i % 64);
		uint64_t g = (i / 32) >> GROUP_SHIFT;
		any[g / 32] |= 1u << (g % 32);
	}
	/* Best of five of each scan, alternating: the least disturbed measurement on a shared machine. */
	double flat_ms = 1e300, summary_ms = 1e300;
	uint64_t flat_runs = 0, flat_last = 0;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = now_ms();
		scan_flat(w, n64, pages);
		double t1 = now_ms();
		flat_runs = nruns;
		flat_last = nruns ? run_end[nruns - 1] : 0;
		scan_summary(w32, n32, pages, any, full, nsum, ngroups);
		double t2 = now_ms();
		if (nruns != flat_runs || (nruns && run_end[nruns - 1] != flat_last)) {
			fprintf(stderr, "the two scans disagree: %llu and %llu runs\n", (unsigned long long)flat_runs, (unsigned long long)nruns);
			return 1;
		}
		flat_ms = t1 - t0 < flat_ms ? t1 - t0 : flat_ms;
		summary_ms = t2 - t1 < summary_ms ? t2 - t1 : summary_ms;
	}
	double t2 = now_ms();
	uint64_t acc = 0;
	for (uint64_t i = 0; i < n64; i++)
		acc |= w[i];
	double t3 = now_ms();
	memset(w, 0, n64 * sizeof *w);
	double t4 = now_ms();
	volatile uint64_t sink = w[n64 / 2] | acc;
	(void)sink;
	printf("{\"pages\":%llu,\"runs\":%llu,\"flatScanMs\":%.4f,\"summaryScanMs\":%.4f,\"readMs\":%.4f,\"clearMs\":%.4f}\n", (unsigned long long)pages,
	       (unsigned long long)nruns, flat_ms, summary_ms, t3 - t2, t4 - t3);
	free(w);
	return 0;
}
