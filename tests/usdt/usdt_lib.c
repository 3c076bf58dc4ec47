/* The shared library of tests/usdt/usdt_app.c: a USDT probe in a .so (PIC). */
#include <sys/sdt.h>

void lib_fire(int x)
{
    DTRACE_PROBE2(mylib, fire, x, x * 2);
}
