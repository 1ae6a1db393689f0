// The real serial transport (raw termios, poll() deadlines, exclusive use).
#include <aliot/serial/transport.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace aliot::serial {

namespace detail {
int set_custom_baud(int fd, unsigned baud);
} // namespace detail

namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

bool is_unplug_errno(int e) {
  return e == EIO || e == ENXIO || e == ENODEV;
}

speed_t standard_speed(unsigned baud) {
  switch (baud) {
  case 1200: return B1200;
  case 2400: return B2400;
  case 4800: return B4800;
  case 9600: return B9600;
  case 19200: return B19200;
  case 38400: return B38400;
  case 57600: return B57600;
  case 115200: return B115200;
  case 230400: return B230400;
  case 460800: return B460800;
  case 500000: return B500000;
  case 576000: return B576000;
  case 921600: return B921600;
  case 1000000: return B1000000;
  case 1500000: return B1500000;
  case 2000000: return B2000000;
  case 3000000: return B3000000;
  default: return 0;
  }
}

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) {
    return 0;
  }
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

class PosixTransport final : public Transport {
public:
  PosixTransport(int fd, std::string path, const std::atomic<bool>* cancel)
      : m_fd(fd)
      , m_path(std::move(path))
      , m_cancel(cancel) {}
  ~PosixTransport() override {
    if (m_fd >= 0) {
      ::ioctl(m_fd, TIOCNXCL);
      ::close(m_fd);
    }
  }
  PosixTransport(const PosixTransport&) = delete;
  PosixTransport& operator=(const PosixTransport&) = delete;

  Result<void> write(std::string_view bytes, Clock::time_point deadline) override {
    while (!bytes.empty()) {
      if (m_lost) {
        return lost();
      }
      if (cancelled()) {
        return interrupted();
      }
      const auto n = ::write(m_fd, bytes.data(), bytes.size());
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && errno != EAGAIN) {
        const int e = errno;
        if (is_unplug_errno(e)) {
          m_lost = true;
          return lost();
        }
        return Error(Errc::device, "serial port " + m_path + ": write failed: " + errno_text(e));
      }
      pollfd p{m_fd, POLLOUT, 0};
      const int r = ::poll(&p, 1, slice(deadline));
      if (r == 0 && Clock::now() < deadline) {
        continue;
      }
      if (r == 0) {
        return Error(Errc::device, "serial port " + m_path + ": write timed out (output blocked)");
      }
      if (r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
        m_lost = true;
        return lost();
      }
    }
    return ok();
  }

  Result<std::string> read(Clock::time_point deadline) override {
    while (true) {
      if (m_lost) {
        return lost();
      }
      if (cancelled()) {
        return interrupted();
      }
      pollfd p{m_fd, POLLIN, 0};
      const int r = ::poll(&p, 1, slice(deadline));
      if (r < 0) {
        if (errno == EINTR) {
          continue;
        }
        return Error(Errc::device, "serial port " + m_path + ": poll failed: " + errno_text(errno));
      }
      if (r == 0) {
        if (Clock::now() < deadline) {
          continue;
        }
        return std::string();
      }
      char buf[512];
      const auto n = ::read(m_fd, buf, sizeof buf);
      if (n > 0) {
        return std::string(buf, static_cast<std::size_t>(n));
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if ((p.revents & (POLLHUP | POLLERR)) != 0) {
          m_lost = true;
          return lost();
        }
        continue;
      }
      // read() == 0 after POLLIN/POLLHUP, or EIO/ENXIO: the device is gone.
      if (n == 0 || is_unplug_errno(errno) || (p.revents & (POLLHUP | POLLERR)) != 0) {
        m_lost = true;
        return lost();
      }
      return Error(Errc::device, "serial port " + m_path + ": read failed: " + errno_text(errno));
    }
  }

  void discard_input() override { ::tcflush(m_fd, TCIFLUSH); }
  bool link_lost() const override { return m_lost; }
  const std::string& name() const override { return m_path; }

private:
  Error lost() const {
    return Error(Errc::device,
                 "serial port " + m_path + ": the device went away (unplugged or powered off)",
                 "check the cable and the fixture, then run the burn again: a unit that comes "
                 "back gets the same triplet");
  }

  bool cancelled() const { return m_cancel != nullptr && m_cancel->load(); }
  Error interrupted() const {
    return Error(Errc::interrupted, "serial port " + m_path + ": interrupted");
  }
  int slice(Clock::time_point deadline) const {
    const int ms = ms_until(deadline);
    return m_cancel != nullptr ? std::min(ms, 50) : ms;
  }

  int m_fd;
  std::string m_path;
  const std::atomic<bool>* m_cancel;
  bool m_lost = false;
};

} // namespace

std::vector<std::string> port_holders(const std::string& path) {
  std::vector<std::string> out;
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) == nullptr) {
    return out;
  }
  const std::string target = real;
  const std::string self = std::to_string(::getpid());
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return out;
  }
  while (auto* e = ::readdir(proc)) {
    const std::string pid = e->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid == self) {
      continue;
    }
    const std::string fddir = "/proc/" + pid + "/fd";
    DIR* fds = ::opendir(fddir.c_str());
    if (fds == nullptr) {
      continue;
    }
    bool holds = false;
    while (auto* f = ::readdir(fds)) {
      char link[PATH_MAX];
      const std::string lp = fddir + "/" + f->d_name;
      const auto n = ::readlink(lp.c_str(), link, sizeof link - 1);
      if (n > 0 && std::string(link, static_cast<std::size_t>(n)) == target) {
        holds = true;
        break;
      }
    }
    ::closedir(fds);
    if (holds) {
      std::string comm;
      std::ifstream c("/proc/" + pid + "/comm");
      std::getline(c, comm);
      out.push_back("pid " + pid + (comm.empty() ? "" : " (" + comm + ")"));
    }
  }
  ::closedir(proc);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::unique_ptr<Transport>> open_port(const std::string& path, const PortOptions& opts) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV) {
      return Error(Errc::device, "serial port " + path + ": no such device",
                   "is the adapter plugged in? 'aliot ports' lists the serial ports");
    }
    if (e == EACCES) {
      return Error(Errc::device, "serial port " + path + ": permission denied",
                   "add your user to the 'dialout' group (then log in again)");
    }
    if (e == EBUSY) {
      auto holders = port_holders(path);
      std::string who;
      for (const auto& h : holders) {
        who += (who.empty() ? "" : ", ") + h;
      }
      return Error(Errc::device,
                   "serial port " + path + ": busy" + (who.empty() ? "" : ": in use by " + who),
                   "only one program at a time may use a serial port");
    }
    return Error(Errc::device, "serial port " + path + ": cannot open: " + errno_text(e));
  }
  auto close_with = [fd](Error err) -> Result<std::unique_ptr<Transport>> {
    ::close(fd);
    return err;
  };
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (e == EWOULDBLOCK) {
      ::close(fd);
      auto holders = port_holders(path);
      std::string who;
      for (const auto& h : holders) {
        who += (who.empty() ? "" : ", ") + h;
      }
      return Error(Errc::device,
                   "serial port " + path + ": busy: another program holds it"
                       + (who.empty() ? "" : " (" + who + ")"),
                   "only one program at a time may use a serial port; stop the other one first");
    }
    return close_with(
        Error(Errc::device, "serial port " + path + ": cannot lock: " + errno_text(e)));
  }
  termios tio{};
  if (::tcgetattr(fd, &tio) != 0) {
    const int e = errno;
    if (e == ENOTTY) {
      return close_with(Error(Errc::device, "serial port " + path + ": not a serial port (a tty)"));
    }
    return close_with(Error(Errc::device, "serial port " + path
                                              + ": cannot read its settings: " + errno_text(e)));
  }
  ::ioctl(fd, TIOCEXCL);
  ::cfmakeraw(&tio);
  tio.c_cflag |= CLOCAL | CREAD;
  tio.c_cflag &= ~static_cast<tcflag_t>(CSTOPB | CRTSCTS);
  tio.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  tio.c_cc[VMIN] = 0;
  tio.c_cc[VTIME] = 0;
  const speed_t sp = standard_speed(opts.baud);
  if (sp != 0) {
    ::cfsetispeed(&tio, sp);
    ::cfsetospeed(&tio, sp);
  }
  if (::tcsetattr(fd, TCSANOW, &tio) != 0) {
    return close_with(
        Error(Errc::device, "serial port " + path + ": cannot set raw mode: " + errno_text(errno)));
  }
  if (sp == 0 && detail::set_custom_baud(fd, opts.baud) != 0) {
    return close_with(Error(Errc::device, "serial port " + path + ": the baud rate "
                                              + std::to_string(opts.baud)
                                              + " is not supported: " + errno_text(errno)));
  }
  ::tcflush(fd, TCIOFLUSH);
  return std::unique_ptr<Transport>(std::make_unique<PosixTransport>(fd, path, opts.cancel));
}

} // namespace aliot::serial
