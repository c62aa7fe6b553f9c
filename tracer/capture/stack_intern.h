/* Call stacks interned (stack_intern.c): private to tracer/capture. */
#ifndef CTRACE_CAPTURE_STACK_INTERN_H
#define CTRACE_CAPTURE_STACK_INTERN_H

#include <stddef.h>
#include <stdint.h>

typedef struct si_table si_table;

si_table *si_new(void); /* NULL: out of memory */
void si_free(si_table *t);
/* The id (1..) of the stack pcs[0..n), the same for the same addresses;
 * *is_new: first seen now (to be written out). @return 0 for an empty
 * stack, or when out of memory (then *is_new is 0). */
uint32_t si_intern(si_table *t, const uint64_t *pcs, unsigned n, int *is_new);
size_t si_count(const si_table *t); /* distinct stacks */
/* The addresses of stack id (n of them; NULL and 0 for id 0 or an id not
 * given out). Valid until the next si_intern. */
const uint64_t *si_stack(const si_table *t, uint32_t id, unsigned *n);

#endif /* CTRACE_CAPTURE_STACK_INTERN_H */
