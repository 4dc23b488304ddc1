/* The runtime's column language and gradient-check rule, for Swift (see runtime_rules.c). */
#include "../../../codegen/dlc_columns.h"
#include "../../../codegen/dlc_gradcheck_rule.h"
