# Writes OUT, a C++ file holding the bytes of DIR/{adjectivelist,nounlist,verblist}.txt
# (RULER's word lists, data/wordlists/README.md) so that vatp_eval needs no data file
# at run time. Run at build time: cmake -DDIR=... -DOUT=... -P embed_wordlists.cmake
set(body "// Generated from data/wordlists/ by cmake/embed_wordlists.cmake; edits are overwritten.\n")
string(APPEND body "#include <cstddef>\n\nnamespace vatp::eval::embedded {\n")
foreach(name adjectivelist nounlist verblist)
  file(READ "${DIR}/${name}.txt" hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "extern const unsigned char k_${name}[];\n")
  string(APPEND body "extern const std::size_t k_${name}_size;\n")
  string(APPEND body "const unsigned char k_${name}[] = {${bytes}0};\n")
  string(APPEND body "const std::size_t k_${name}_size = ${n};\n")
endforeach()
string(APPEND body "}  // namespace vatp::eval::embedded\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
