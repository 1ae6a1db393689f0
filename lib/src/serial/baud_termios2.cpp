// Non-standard baud rates through termios2/BOTHER. <asm/termbits.h> clashes with <termios.h>,
// so this file includes only the kernel header.
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <sys/ioctl.h>

namespace aliot::serial::detail {

// Sets input and output speed to `baud`; returns 0 or an errno value.
int set_custom_baud(int fd, unsigned baud) {
  struct termios2 tio {};
  if (ioctl(fd, TCGETS2, &tio) != 0) {
    return -1;
  }
  tio.c_cflag &= ~static_cast<tcflag_t>(CBAUD);
  tio.c_cflag |= BOTHER;
  tio.c_ispeed = baud;
  tio.c_ospeed = baud;
  tio.c_cflag &= ~static_cast<tcflag_t>(CBAUD << IBSHIFT);
  tio.c_cflag |= BOTHER << IBSHIFT;
  if (ioctl(fd, TCSETS2, &tio) != 0) {
    return -1;
  }
  return 0;
}

} // namespace aliot::serial::detail
