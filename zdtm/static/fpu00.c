#include "zdtmtst.h"

const char *test_doc = "x87 FPU registers, stack and control word survive while the test spins";

static double in[8] = {1.5, -2.25, 3.141592653589793, 1e300, -1e-300, 12345.678, 0.1, 2.718281828459045};
static double out[8];
static uint16_t cw_in = 0x0F7F; /* round toward zero, 64-bit precision, all masked */
static uint16_t cw_out;

/* The corruption happens in the assembly, which checks test_corrupting(). */
static void corrupt_in_asm(void)
{
}

int main(int argc, char **argv)
{
	volatile int *flag;
	char readybyte = 'R';
	int ready;
	int corrupt = 0, i;

	test_init(argc, argv);
	flag = test_sigterm_flag();
	test_set_corrupt(corrupt_in_asm);
	ready = test_daemon_prepare();
	corrupt = test_corrupting();

	asm volatile("fninit\n"
		     "fldcw %[cw]\n"
		     "fldl 0(%[in])\n fldl 8(%[in])\n fldl 16(%[in])\n fldl 24(%[in])\n"
		     "fldl 32(%[in])\n fldl 40(%[in])\n fldl 48(%[in])\n fldl 56(%[in])\n"
		     TEST_READY_ASM
		     "1: pause\n cmpl $0, (%[flag])\n je 1b\n"
		     "testl %[corrupt], %[corrupt]\n jz 2f\n fchs\n 2:\n"
		     "fnstcw %[cwo]\n"
		     "fstpl 56(%[out])\n fstpl 48(%[out])\n fstpl 40(%[out])\n fstpl 32(%[out])\n"
		     "fstpl 24(%[out])\n fstpl 16(%[out])\n fstpl 8(%[out])\n fstpl 0(%[out])\n"
		     "fninit\n"
		     : [cwo] "=m"(cw_out)
		     : [cw] "m"(cw_in), [in] "r"(in), [out] "r"(out), [flag] "r"(flag),
		       [corrupt] "r"(corrupt), [readyfd] "m"(ready), [readybyte] "m"(readybyte)
		     : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",
		       "memory", "cc", TEST_READY_CLOBBERS);
	test_go();

	if (cw_out != cw_in)
		fail("FPU control word %#x, want %#x", cw_out, cw_in);
	for (i = 0; i < 8; i++)
		if (memcmp(&in[i], &out[i], sizeof(double)))
			fail("st register loaded with %g holds %g", in[i], out[i]);
	pass();
	return 0;
}
