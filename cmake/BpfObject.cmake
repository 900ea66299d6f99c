# bpf_object(<name> <source.bpf.c>)
#
# Compiles a BPF program with clang (-target bpf -O2 -g), generates its skeleton
# <name>.skel.h with bpftool in the build directory, and exposes both through an
# INTERFACE target `<name>_skel` that C++ targets link to get the include path.
# Generated files never leave the build directory.

find_program(BPF_CLANG NAMES clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

# The multiarch include dir holds <asm/types.h>; -idirafter keeps the BPF target's own
# headers first.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE BPF_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT BPF_MULTIARCH)
  set(BPF_MULTIARCH "x86_64-linux-gnu")
endif()

# -Werror follows SLUICE_WERROR, as for the C++ side.
set(BPF_CFLAGS -target bpf -mcpu=v3 -O2 -g -Wall -Wextra
    -Wno-unused-parameter -D__TARGET_ARCH_x86
    -idirafter /usr/include/${BPF_MULTIARCH}
    -I${PROJECT_SOURCE_DIR}/bpf)
if(SLUICE_WERROR)
  list(APPEND BPF_CFLAGS -Werror)
endif()

# The data path's headers: the layout shared with C++ (sluice_layout.h), the
# bucket math, and the BPF-only ones.
file(GLOB SLUICE_BPF_HEADERS ${PROJECT_SOURCE_DIR}/bpf/*.h)

function(bpf_object name source)
  bpf_object_in(${name} ${name} ${CMAKE_CURRENT_BINARY_DIR}/bpf ${source} ${ARGN})
endfunction()

# bpf_object_in(<target> <name> <dir> <source.bpf.c> [cflags...]): the same, with
# the object and skeleton in <dir> and the INTERFACE target called <target>_skel,
# so that a variant of a program (other -D flags) has a skeleton of the same name.
function(bpf_object_in target name dir source)
  set(obj ${dir}/${name}.bpf.o)
  set(skel ${dir}/${name}.skel.h)
  set(extra_cflags ${ARGN})
  # A program finds its own folder's headers too (bench/bpf/pktgen.h).
  get_filename_component(source_dir ${source} DIRECTORY)
  file(GLOB local_headers ${source_dir}/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${BPF_CLANG} ${BPF_CFLAGS} -I${source_dir} ${extra_cflags} -c ${source} -o ${obj}
    DEPENDS ${source} ${SLUICE_BPF_HEADERS} ${local_headers}
    COMMENT "BPF ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${target}_skel_gen DEPENDS ${skel})
  add_library(${target}_skel INTERFACE)
  add_dependencies(${target}_skel ${target}_skel_gen)
  target_include_directories(${target}_skel INTERFACE ${dir})
endfunction()
