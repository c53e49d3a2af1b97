// Shared vocabulary of the core: byte views and the error types the bindings
// translate into Python exceptions. No Python here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace scanner {

// A non-owning view of bytes (UTF-8 text unless said otherwise).
struct ByteSpan {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
};

// Bad arguments or malformed input buffers; becomes scanner.InvalidInput (a ValueError).
class InvalidArgument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// A persisted index that does not match what the code expects; becomes scanner.IndexFormatError.
class FormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace scanner
