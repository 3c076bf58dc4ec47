/* USDT probes with several sites for tests/test_usdt_c.py: "sites:val" is fired at three
 * sites, each passing its own site number (a different constant operand at each, so
 * each site reads its arguments differently) and a value derived from the loop's v in
 * its own way; "sites:other" has a third argument; "sites:guarded" has a semaphore and
 * fires only while a tracer has it counted up (the others have semaphores too, as
 * _SDT_HAS_SEMAPHORES wants, but do not test them); "other_prov:val" shares val's name.
 * Usage: usdt_sites BASE N   prints "ready SEMAPHORE", waits for a line on stdin, runs
 * N iterations (v = BASE + i), prints "guarded FIRED SEMAPHORE" and exits. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>

#define SEMAPHORE(p) unsigned short p##_semaphore __attribute__((section(".probes"), used))
SEMAPHORE(sites_guarded);
SEMAPHORE(sites_val);
SEMAPHORE(sites_other);
SEMAPHORE(other_prov_val);

static volatile long slots[8];

static unsigned short semaphore(void)
{
    return *(volatile unsigned short *)&sites_guarded_semaphore;
}

__attribute__((noinline)) static void site_two(long v)
{
    DTRACE_PROBE2(sites, val, 2, v * 3);
}

int main(int argc, char **argv)
{
    long base = argc > 1 ? atol(argv[1]) : 0, n = argc > 2 ? atol(argv[2]) : 10;
    unsigned long guarded = 0;
    char line[16];

    printf("ready %u\n", semaphore());
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    for (long i = 0; i < n; i++) {
        long v = base + i;
        slots[i & 7] = v * 5;
        DTRACE_PROBE2(sites, val, 1, v);
        site_two(v);
        DTRACE_PROBE2(sites, val, 3, slots[i & 7]);
        DTRACE_PROBE3(sites, other, 4, v, -v);
        DTRACE_PROBE1(other_prov, val, v);
        if (semaphore()) {
            guarded++;
            DTRACE_PROBE1(sites, guarded, v);
        }
    }
    printf("guarded %lu %u\n", guarded, semaphore());
    return 0;
}
