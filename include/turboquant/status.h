// Every public call of the library reports failure through absl::Status or
// absl::StatusOr<T>; messages name the offending argument, file, row or value.
#ifndef TURBOQUANT_STATUS_H_
#define TURBOQUANT_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace turboquant {

using Status = absl::Status;
template <typename T>
using StatusOr = absl::StatusOr<T>;

}  // namespace turboquant

#endif  // TURBOQUANT_STATUS_H_
