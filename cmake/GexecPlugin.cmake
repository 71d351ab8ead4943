# GexecPlugin.cmake: how a gexec plugin is built. One file for the built-in plugins (through
# gx_add_plugin in GexecBuiltins.cmake) and for third-party ones (installed with the CMake
# package; find_package(gexec) includes it), so both are linked the same way:
#
#   - a MODULE (dlopen'ed, never linked against), named gx-*.so with no "lib" prefix: the engine
#     scans plugin directories for that pattern;
#   - C11 (unless the project sets its own standard), hidden visibility: GX_PLUGIN_ENTRY marks
#     the entry point as the one export;
#   - -Wl,-z,defs: a plugin never links back into libgexec, so any undefined symbol (a call into
#     the engine, a forgotten -lm) fails the link instead of the dlopen on a user's machine;
#   - a version script (gexec-plugin.map, beside this file) that exports gx_plugin_entry only,
#     so two plugins' static helpers can never collide or interpose.
#
# The map is found next to this file both in the source tree (cmake/) and in the installed
# package (lib/cmake/gexec/).
set_property(GLOBAL PROPERTY GEXEC_PLUGIN_MAP_FILE "${CMAKE_CURRENT_LIST_DIR}/gexec-plugin.map")

# gexec_plugin_settings(<target>): the settings above on an existing MODULE target. For plugins
# that need their own add_library call; gexec_add_plugin uses it.
function(gexec_plugin_settings target)
  get_property(map GLOBAL PROPERTY GEXEC_PLUGIN_MAP_FILE)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  # C11 without GNU extensions, as the built-in plugins are compiled, unless the project
  # chose its own standard (CMAKE_C_STANDARD, CMAKE_C_EXTENSIONS)
  if(NOT DEFINED CMAKE_C_STANDARD)
    set_target_properties(${target} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
  endif()
  if(NOT DEFINED CMAKE_C_EXTENSIONS)
    set_target_properties(${target} PROPERTIES C_EXTENSIONS OFF)
  endif()
  target_link_options(${target} PRIVATE -Wl,-z,defs "-Wl,--version-script=${map}")
  # relink when the export list changes
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${map}")
  # the SDK headers (gexec/plugin.h, ...) and libm, which most kernels need and -z defs
  # would otherwise report as undefined
  target_link_libraries(${target} PRIVATE gexec::sdk m)
endfunction()

# gexec_add_plugin(<target> SOURCES <file>...
#                  [LIBS <lib>...]          libraries the plugin itself needs (never libgexec)
#                  [OUTPUT_NAME <gx-name>]  default: gx-<target>, with '_' written as '-'
#                  [DESTINATION <dir>]      install directory; default: GEXEC_PLUGIN_DIR, where
#                                           the installed gexec loads plugins with no setting
#                  [NO_INSTALL])            no install rule
# Builds <OUTPUT_NAME>.so. Point GEXEC_PLUGIN_PATH at the build directory (or at the file) to
# use it before installing.
function(gexec_add_plugin target)
  cmake_parse_arguments(P "NO_INSTALL" "OUTPUT_NAME;DESTINATION" "SOURCES;LIBS" ${ARGN})
  if(P_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "gexec_add_plugin(${target}): unknown arguments: ${P_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "gexec_add_plugin(${target}): no SOURCES")
  endif()
  if(NOT P_OUTPUT_NAME)
    string(REPLACE "_" "-" P_OUTPUT_NAME "${target}")
    if(NOT P_OUTPUT_NAME MATCHES "^gx-")
      set(P_OUTPUT_NAME "gx-${P_OUTPUT_NAME}")
    endif()
  elseif(NOT P_OUTPUT_NAME MATCHES "^gx-")
    message(WARNING "gexec_add_plugin(${target}): OUTPUT_NAME '${P_OUTPUT_NAME}' does not start "
                    "with 'gx-': gexec only loads gx-*.so from a plugin directory (a file named "
                    "in GEXEC_PLUGIN_PATH still loads)")
  endif()
  add_library(${target} MODULE ${P_SOURCES})
  gexec_plugin_settings(${target})
  set_target_properties(${target} PROPERTIES OUTPUT_NAME "${P_OUTPUT_NAME}")
  if(P_LIBS)
    target_link_libraries(${target} PRIVATE ${P_LIBS})
  endif()
  if(NOT P_NO_INSTALL)
    if(NOT P_DESTINATION)
      if(NOT GEXEC_PLUGIN_DIR)
        message(FATAL_ERROR "gexec_add_plugin(${target}): no DESTINATION and no GEXEC_PLUGIN_DIR")
      endif()
      set(P_DESTINATION "${GEXEC_PLUGIN_DIR}")
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION "${P_DESTINATION}")
  endif()
endfunction()
