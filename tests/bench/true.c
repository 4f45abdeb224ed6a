/* SPDX-License-Identifier: Apache-2.0 */
/* The spawn floor: the cheapest C program, built like ours (dynamic libc). */
int
main(void)
{
	return 0;
}
