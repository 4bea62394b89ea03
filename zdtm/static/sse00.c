#include "zdtmtst.h"

const char *test_doc = "SSE registers xmm0-15 and MXCSR survive while the test spins";

static uint8_t in[16 * 16] __attribute__((aligned(64)));
static uint8_t out[16 * 16] __attribute__((aligned(64)));
static uint32_t mxcsr_in = 0x1f80 | 0x6000 | 0x8000 | 0x0040; /* RZ, FTZ, DAZ */
static uint32_t mxcsr_out;

#define LD(n) "movdqa " #n "*16(%[in]), %%xmm" #n "\n"
#define ST(n) "movdqa %%xmm" #n ", " #n "*16(%[out])\n"

/* The corruption happens in the assembly, which checks test_corrupting(). */
static void corrupt_in_asm(void)
{
}

int main(int argc, char **argv)
{
	uint32_t def = 0x1f80;
	volatile int *flag;
	char readybyte = 'R';
	int ready;
	int corrupt, i;

	test_init(argc, argv);
	fill_pattern(in, sizeof(in), 16);
	flag = test_sigterm_flag();
	test_set_corrupt(corrupt_in_asm);
	ready = test_daemon_prepare();
	corrupt = test_corrupting();

	asm volatile(LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7)
		     LD(8) LD(9) LD(10) LD(11) LD(12) LD(13) LD(14) LD(15)
		     "ldmxcsr %[mx]\n"
		     TEST_READY_ASM
		     "1: pause\n cmpl $0, (%[flag])\n je 1b\n"
		     "testl %[corrupt], %[corrupt]\n jz 2f\n pcmpeqd %%xmm5, %%xmm5\n 2:\n"
		     "stmxcsr %[mxo]\n ldmxcsr %[def]\n"
		     ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
		     ST(8) ST(9) ST(10) ST(11) ST(12) ST(13) ST(14) ST(15)
		     : [mxo] "=m"(mxcsr_out)
		     : [mx] "m"(mxcsr_in), [def] "m"(def), [in] "r"(in), [out] "r"(out),
		       [flag] "r"(flag), [corrupt] "r"(corrupt), [readyfd] "m"(ready), [readybyte] "m"(readybyte)
		     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
		       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc", TEST_READY_CLOBBERS);
	test_go();

	if (mxcsr_out != mxcsr_in)
		fail("MXCSR %#x, want %#x", mxcsr_out, mxcsr_in);
	for (i = 0; i < 16; i++)
		if (memcmp(in + i * 16, out + i * 16, 16))
			fail("xmm%d changed", i);
	pass();
	return 0;
}
