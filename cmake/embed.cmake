# Writes OUT, a C++ file holding the bytes of DIR/NAME.EXT for each NAME of NAMES
# (comma-separated) as `const unsigned char k_NAME[]` (NUL-terminated) and
# `const std::size_t k_NAME_size` in namespace NS, so that the program needs no data
# file at run time (RULER's word lists; vatp serve's web page). Run at build time:
#   cmake -DDIR=... -DNAMES=a,b -DEXT=.txt -DNS=vatp::eval::embedded -DOUT=... -P embed.cmake
string(REPLACE "," ";" names "${NAMES}")
set(body "// Generated from ${DIR} by cmake/embed.cmake; edits are overwritten.\n")
string(APPEND body "#include <cstddef>\n\nnamespace ${NS} {\n")
foreach(name ${names})
  file(READ "${DIR}/${name}${EXT}" hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "extern const unsigned char k_${name}[];\n")
  string(APPEND body "extern const std::size_t k_${name}_size;\n")
  string(APPEND body "const unsigned char k_${name}[] = {${bytes}0};\n")
  string(APPEND body "const std::size_t k_${name}_size = ${n};\n")
endforeach()
string(APPEND body "}  // namespace ${NS}\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
