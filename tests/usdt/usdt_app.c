/* A program with USDT probes (systemtap's <sys/sdt.h>) for tests/test_usdt_c.py:
 * both have semaphores; "tick" fires only while a tracer has its semaphore counted up,
 * "args" always; lib_fire() in libusdt_lib.so has probe "mylib:fire".
 * Usage: usdt_app SECONDS   (prints "ready" once started, then loops every 1 ms) */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

unsigned short myapp_tick_semaphore __attribute__((section(".probes"), used));
unsigned short myapp_args_semaphore __attribute__((section(".probes"), used));

void lib_fire(int x);

static const char *names[] = {"zero", "one", "two", "three"};

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    struct timespec t0, t;
    long i = 0;
    unsigned long fired = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 > secs)
            break;
        if (myapp_tick_semaphore) {
            fired++;
            /* int, negative long, string, char */
            DTRACE_PROBE4(myapp, tick, (int)(i & 3), -i * 1000, names[i & 3], (char)('a' + (i & 3)));
        }
        DTRACE_PROBE2(myapp, args, (unsigned short)(i & 0xffff), (long long)i << 33);
        lib_fire((int)i);
        i++;
        usleep(1000);
    }
    printf("fired %lu\n", fired);
    return 0;
}
