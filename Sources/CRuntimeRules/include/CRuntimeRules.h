/* The runtime's column language and gradient-check rule, for Swift (see runtime_rules.c). */
#include "../../../codegen/data/dlc_columns.h"
#include "../../../codegen/core/dlc_gradcheck_rule.h"
