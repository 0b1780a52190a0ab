// Starts a server binary as a real child process for integration tests, on a free loopback port chosen by the
// server itself (--listen 127.0.0.1:0): waits for its "listening on HOST:PORT" line (and "metrics on HOST:PORT"
// when it serves metrics), keeps its stderr in a file for failure messages, and stops it with a signal.
//
// Ownership: the ServerProcess owns the child; the destructor sends SIGKILL if it is still running.
// Thread-safety: use from one thread.
//
//   ServerProcess server;
//   ASSERT_TRUE(server.Start(AWQSERVE_TOKENIZER_BIN, {"--model_dir", dir, "--listen", "127.0.0.1:0"}))
//       << server.stderr_text();
//   auto channel = services::MakeChannel(server.address());
//   EXPECT_EQ(server.Stop(SIGTERM), 0);   // the exit status
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace testing_process {

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  // Runs `binary args...` and waits up to `timeout` for its listening line. False when the process exits first or
  // the time runs out (then exit_code() / stderr_text() tell why).
  bool Start(const std::string& binary, const std::vector<std::string>& args,
             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    static int counter = 0;
    stderr_path_ = "/tmp/awqserve_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".stderr";
    int out[2];
    if (pipe(out) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      const int err = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(err, STDERR_FILENO);
      close(out[0]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(binary.c_str()));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_fd_ = out[0];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!ReadLine(deadline)) break;
      Parse("listening on ", &address_);
      Parse("metrics on ", &metrics_address_);
      if (!address_.empty() && (!ExpectsMetrics(args) || !metrics_address_.empty())) return true;
    }
    // It did not come up: collect its exit status if it has one.
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
    }
    return false;
  }

  // Waits for the process to exit by itself (e.g. a startup failure); returns its exit code, or -1 on timeout.
  int WaitExit(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return exit_code_;
      }
      usleep(10000);
    }
    return -1;
  }

  // Sends `sig` and waits for the exit; returns the exit code (128 + signal when killed by one), -1 on timeout.
  int Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, sig);
    return WaitExit(timeout);
  }
  void Signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }

  const std::string& address() const { return address_; }  // HOST:PORT of gRPC
  int port() const { return std::stoi(address_.substr(address_.rfind(':') + 1)); }
  int metrics_port() const {
    return metrics_address_.empty() ? 0 : std::stoi(metrics_address_.substr(metrics_address_.rfind(':') + 1));
  }
  int exit_code() const { return exit_code_; }
  std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  static bool ExpectsMetrics(const std::vector<std::string>& args) {
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--metrics_listen") return args[i + 1] != "none";
    }
    return false;
  }
  bool Parse(const std::string& prefix, std::string* out) const {
    if (line_.compare(0, prefix.size(), prefix) != 0) return false;
    *out = line_.substr(prefix.size());
    return true;
  }
  // Reads one stdout line into line_; false on EOF or timeout.
  bool ReadLine(std::chrono::steady_clock::time_point deadline) {
    line_.clear();
    while (true) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line_ = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{stdout_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[512];
      const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int exit_code_ = -1;
  std::string stderr_path_, buffer_, line_, address_, metrics_address_;
};

}  // namespace testing_process
