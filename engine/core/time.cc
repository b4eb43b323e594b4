#include "engine/core/time.h"

#include "engine/core/check.h"

namespace qsm {

void VirtualClock::AdvanceTo(TimePoint t) {
  QSM_CHECK(t >= now_, "virtual time must not go back");
  now_ = t;
}

}  // namespace qsm
