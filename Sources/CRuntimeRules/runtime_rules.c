/* The rules of the C runtime that the Swift side follows too, compiled from the runtime's own
 * files so that there is one implementation of each: the column language (dlc_columns.c) and,
 * header-only, the gradient check's judgement of an element (dlc_gradcheck_rule.h). */
#include "../../codegen/data/dlc_columns.c"
