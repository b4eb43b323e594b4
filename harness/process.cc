#include "harness/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace qsm::harness {

Result<pid_t> StartProcess(const std::vector<std::string>& argv, const ChildIo& io) {
  if (argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "no program to run");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return MakeError(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  if (pid > 0) return pid;
  // The child: only async-signal-safe calls from here to exec.
  if (io.own_process_group) setpgid(0, 0);
  const int null = open("/dev/null", O_RDWR);
  dup2(io.in >= 0 ? io.in : null, 0);
  dup2(io.out >= 0 ? io.out : null, 1);
  dup2(io.err >= 0 ? io.err : null, 2);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  execvp(args[0], args.data());
  const char* reason = std::strerror(errno);
  (void)!write(2, "cannot run ", 11);
  (void)!write(2, args[0], std::strlen(args[0]));
  (void)!write(2, ": ", 2);
  (void)!write(2, reason, std::strlen(reason));
  (void)!write(2, "\n", 1);
  _exit(127);
}

Result<Finished> RunToEnd(const std::vector<std::string>& argv, const std::string& stdin_text) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return MakeError(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return MakeError(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  }
  auto pid = StartProcess(argv, ChildIo{.in = in[0], .out = out[1], .err = out[1]});
  close(in[0]);
  close(out[1]);
  if (pid && !stdin_text.empty()) (void)!write(in[1], stdin_text.data(), stdin_text.size());
  close(in[1]);
  Finished finished;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;)
    finished.output.append(buffer, static_cast<size_t>(n));
  close(out[0]);
  if (!pid) return std::unexpected(pid.error());
  int status = 0;
  waitpid(*pid, &status, 0);
  finished.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return finished;
}

Result<int> OpenLog(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return MakeError(ErrorCode::kIo, "cannot create " + path + ": " + std::strerror(errno));
  return fd;
}

}  // namespace qsm::harness
