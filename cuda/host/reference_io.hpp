// Reads a case that tests/cuda_reference.rs wrote (target/cuda-ref/<case>/)
// and compares kernel outputs with the CPU backend's. Every comparison fails
// on a NaN or infinity, on a length mismatch and on a missing file.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

struct ReferenceCase {
    std::string dir;
    std::map<std::string, std::string> meta;
    int failures = 0;

    explicit ReferenceCase(std::string d) : dir(std::move(d)) {
        std::ifstream in(dir + "/meta.txt");
        if (!in) die("meta.txt missing");
        std::string key, value;
        while (in >> key >> value) meta[key] = value;
    }

    [[noreturn]] void die(const std::string &what) const {
        std::fprintf(stderr, "%s: %s\n", dir.c_str(), what.c_str());
        std::exit(2);
    }

    double scalar(const std::string &key) const {
        auto it = meta.find(key);
        if (it == meta.end()) die("meta.txt has no " + key);
        return std::strtod(it->second.c_str(), nullptr);
    }
    long count(const std::string &key) const { return (long)scalar(key); }

    template <typename T>
    std::vector<T> read(const std::string &file, size_t expected) const {
        std::ifstream in(dir + "/" + file, std::ios::binary | std::ios::ate);
        if (!in) die(file + " missing");
        size_t bytes = (size_t)in.tellg();
        if (bytes != expected * sizeof(T))
            die(file + ": " + std::to_string(bytes / sizeof(T)) + " values, expected " + std::to_string(expected));
        std::vector<T> v(expected);
        in.seekg(0);
        in.read(reinterpret_cast<char *>(v.data()), (std::streamsize)bytes);
        return v;
    }
    std::vector<double> f64(const std::string &name, size_t n) const { return read<double>(name + ".f64", n); }
    // A float64 input in the kernels' precision T.
    template <typename T>
    std::vector<T> as(const std::string &name, size_t n) const {
        std::vector<double> v = f64(name, n);
        return std::vector<T>(v.begin(), v.end());
    }
    std::vector<int> i32(const std::string &name, size_t n) const { return read<int>(name + ".i32", n); }

    // max |got - want| / max |want| over the array must be <= tol; both sides
    // finite everywhere; empty only where `allow_empty` says an empty result
    // is a real answer (no edges), never by accident. Reports the worst element.
    template <typename T>
    double compare(const std::string &name, const std::vector<T> &got, const std::vector<double> &want, double tol,
                   bool allow_empty = false) {
        if (got.size() != want.size()) {
            std::printf("FAIL %s %s %s: %zu values, expected %zu\n", sizeof(T) == 8 ? "f64" : "f32", dir.c_str(),
                        name.c_str(), got.size(), want.size());
            ++failures;
            return INFINITY;
        }
        double scale = 0, worst = 0;
        size_t at = 0, bad = 0;
        for (size_t i = 0; i < want.size(); ++i) {
            if (!std::isfinite((double)got[i]) || !std::isfinite(want[i])) ++bad;
            scale = std::fmax(scale, std::fabs(want[i]));
        }
        for (size_t i = 0; i < want.size(); ++i) {
            double d = std::fabs((double)got[i] - want[i]);
            if (d > worst || d != d) worst = d, at = i;
        }
        double rel = scale > 0 ? worst / scale : worst;
        bool ok = bad == 0 && rel <= tol && (allow_empty || !want.empty());
        std::printf("%s %s %-40s %-14s %8zu values  max rel err %.3e (at %zu)%s\n", ok ? "ok  " : "FAIL",
                    sizeof(T) == 8 ? "f64" : "f32", dir.c_str(), name.c_str(), want.size(), rel, at,
                    bad ? "  NON-FINITE VALUES" : want.empty() && !allow_empty ? "  EMPTY" : "");
        if (!ok) ++failures;
        return rel;
    }

    template <typename T>
    void compare_exact(const std::string &name, const std::vector<T> &got, const std::vector<T> &want) {
        size_t first = got.size() == want.size() ? got.size() : 0;
        for (size_t i = 0; i < got.size() && i < want.size(); ++i)
            if (got[i] != want[i]) {
                first = i;
                break;
            }
        bool ok = got.size() == want.size() && first == got.size();
        std::printf("%s     %-40s %-14s %8zu values  %s\n", ok ? "ok  " : "FAIL", dir.c_str(), name.c_str(), want.size(),
                    ok ? "identical" : ("differ from " + std::to_string(first)).c_str());
        if (!ok) ++failures;
    }

    int finish() const { return failures ? 1 : 0; }
};

// The tolerance of a check in precision T against the CPU's float64: float64
// to 1e-12 of each array's largest value; float32 to 1e-5 (the CPU's own
// float32 parity bound), rounding of inputs included.
template <typename T>
constexpr double tolerance() { return sizeof(T) == 8 ? 1e-12 : 1e-5; }

// Blocks of 128 threads covering n items, as a GPU launch would.
inline dim3 blocks_for(long long n, unsigned threads = 128) { return dim3((unsigned)((n + threads - 1) / threads)); }
