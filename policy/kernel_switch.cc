#include "policy/kernel_switch.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace aha {

bool KernelSwitchedToTorch(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || value[0] == '\0') return false;
  if (std::strcmp(value, "torch") == 0) return true;
  std::fprintf(stderr,
               "aha: %s=%s is not a valid value; set it to \"torch\" to use LibTorch's operator, "
               "or unset it to use aha's kernel (kept on)\n",
               name, value);
  return false;
}

}  // namespace aha
