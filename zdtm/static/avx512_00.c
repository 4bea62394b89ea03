#include "zdtmtst.h"

const char *test_doc = "AVX-512 registers zmm0-31 and opmasks k1-7 survive while the test spins";

static uint8_t in[32 * 64] __attribute__((aligned(64)));
static uint8_t out[32 * 64] __attribute__((aligned(64)));
static uint16_t kin[8], kout[8];

#define LD(n) "vmovdqu64 " #n "*64(%[in]), %%zmm" #n "\n"
#define ST(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%[out])\n"
#define KLD(n) "kmovw " #n "*2(%[kin]), %%k" #n "\n"
#define KST(n) "kmovw %%k" #n ", " #n "*2(%[kout])\n"

__attribute__((target("avx512f"))) static void spin(volatile int *flag, int corrupt, int ready)
{
	char readybyte = 'R';

	asm volatile(LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7)
		     LD(8) LD(9) LD(10) LD(11) LD(12) LD(13) LD(14) LD(15)
		     LD(16) LD(17) LD(18) LD(19) LD(20) LD(21) LD(22) LD(23)
		     LD(24) LD(25) LD(26) LD(27) LD(28) LD(29) LD(30) LD(31)
		     KLD(1) KLD(2) KLD(3) KLD(4) KLD(5) KLD(6) KLD(7)
		     TEST_READY_ASM
		     "1: pause\n cmpl $0, (%[flag])\n je 1b\n"
		     "testl %[corrupt], %[corrupt]\n jz 2f\n vpternlogd $0xff, %%zmm27, %%zmm27, %%zmm27\n 2:\n"
		     ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
		     ST(8) ST(9) ST(10) ST(11) ST(12) ST(13) ST(14) ST(15)
		     ST(16) ST(17) ST(18) ST(19) ST(20) ST(21) ST(22) ST(23)
		     ST(24) ST(25) ST(26) ST(27) ST(28) ST(29) ST(30) ST(31)
		     KST(1) KST(2) KST(3) KST(4) KST(5) KST(6) KST(7)
		     "vzeroupper\n"
		     :
		     : [in] "r"(in), [out] "r"(out), [kin] "r"(kin), [kout] "r"(kout),
		       [flag] "r"(flag), [corrupt] "r"(corrupt), [readyfd] "m"(ready), [readybyte] "m"(readybyte)
		     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
		       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
		       "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
		       "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2",
		       "k3", "k4", "k5", "k6", "k7", "memory", "cc", TEST_READY_CLOBBERS);
}

/* The corruption happens in the assembly, which checks test_corrupting(). */
static void corrupt_in_asm(void)
{
}

int main(int argc, char **argv)
{
	int i;

	test_init(argc, argv);
	if (!__builtin_cpu_supports("avx512f")) {
		test_msg("no AVX-512 on this CPU: nothing to check\n");
		test_daemon();
		test_waitsig();
		pass();
		return 0;
	}
	fill_pattern(in, sizeof(in), 512);
	for (i = 1; i < 8; i++)
		kin[i] = (uint16_t)(0x1234 * i + 0x0f0f);
	test_set_corrupt(corrupt_in_asm);
	spin(test_sigterm_flag(), test_corrupting(), test_daemon_prepare());
	test_go();

	for (i = 0; i < 32; i++)
		if (memcmp(in + i * 64, out + i * 64, 64))
			fail("zmm%d changed", i);
	for (i = 1; i < 8; i++)
		if (kin[i] != kout[i])
			fail("k%d is %#x, want %#x", i, kout[i], kin[i]);
	pass();
	return 0;
}
