/* Stand-in bcryptprimitives.dll for Wine 8, which lacks ProcessPrng (imported by Rust >= 1.78
 * std). Fills the buffer from RtlGenRandom (advapi32!SystemFunction036). Built at test time by
 * .ci/windows-tests.sh with x86_64-w64-mingw32-gcc; test-only, never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
