// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status, which Debian's Abseil 20220623 lacks.
#ifndef AHA_BASE_STATUS_MACROS_H_
#define AHA_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AHA_STATUS_CONCAT_INNER_(a, b) a##b
#define AHA_STATUS_CONCAT_(a, b) AHA_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    ::absl::Status aha_status_ = (expr);                        \
    if (!aha_status_.ok()) return aha_status_;                  \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when it is not OK,
// otherwise moves the value into `lhs`, which may be a declaration such as `auto x`.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  AHA_ASSIGN_OR_RETURN_IMPL_(AHA_STATUS_CONCAT_(aha_statusor_, __LINE__), lhs, rexpr)

#define AHA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // AHA_BASE_STATUS_MACROS_H_
