#include "zdtmtst.h"

const char *test_doc = "AVX registers ymm0-15 (both halves) survive while the test spins";

static uint8_t in[16 * 32] __attribute__((aligned(64)));
static uint8_t out[16 * 32] __attribute__((aligned(64)));

#define LD(n) "vmovdqu " #n "*32(%[in]), %%ymm" #n "\n"
#define ST(n) "vmovdqu %%ymm" #n ", " #n "*32(%[out])\n"

__attribute__((target("avx"))) static void spin(volatile int *flag, int corrupt, int ready)
{
	char readybyte = 'R';

	asm volatile(LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7)
		     LD(8) LD(9) LD(10) LD(11) LD(12) LD(13) LD(14) LD(15)
		     TEST_READY_ASM
		     "1: pause\n cmpl $0, (%[flag])\n je 1b\n"
		     "testl %[corrupt], %[corrupt]\n jz 2f\n vpcmpeqd %%ymm9, %%ymm9, %%ymm9\n 2:\n"
		     ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
		     ST(8) ST(9) ST(10) ST(11) ST(12) ST(13) ST(14) ST(15)
		     "vzeroupper\n"
		     :
		     : [in] "r"(in), [out] "r"(out), [flag] "r"(flag), [corrupt] "r"(corrupt), [readyfd] "m"(ready), [readybyte] "m"(readybyte)
		     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
		       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc", TEST_READY_CLOBBERS);
}

/* The corruption happens in the assembly, which checks test_corrupting(). */
static void corrupt_in_asm(void)
{
}

int main(int argc, char **argv)
{
	int i;

	test_init(argc, argv);
	if (!__builtin_cpu_supports("avx")) {
		test_msg("no AVX on this CPU: nothing to check\n");
		test_daemon();
		test_waitsig();
		pass();
		return 0;
	}
	fill_pattern(in, sizeof(in), 32);
	test_set_corrupt(corrupt_in_asm);
	spin(test_sigterm_flag(), test_corrupting(), test_daemon_prepare());
	test_go();

	for (i = 0; i < 16; i++) {
		if (memcmp(in + i * 32, out + i * 32, 16))
			fail("the low half of ymm%d changed", i);
		if (memcmp(in + i * 32 + 16, out + i * 32 + 16, 16))
			fail("the high half of ymm%d changed", i);
	}
	pass();
	return 0;
}
