# GexecBuiltins.cmake: gx_add_plugin, for the plugins built in this tree (ops/, backends/).
#
# gx_add_plugin(<target> OUTPUT_NAME <gx-...> SOURCES <...> [LIBS <...>])
# The same build as a third-party plugin's gexec_add_plugin (GexecPlugin.cmake: a MODULE that
# exports only gx_plugin_entry and cannot call back into the engine; it sees only the SDK
# headers), written into the build tree's plugin directory, where libgexec looks for it, and
# installed into the install tree's.
include(${CMAKE_CURRENT_LIST_DIR}/GexecPlugin.cmake)

function(gx_add_plugin target)
  cmake_parse_arguments(P "" "OUTPUT_NAME" "SOURCES;LIBS" ${ARGN})
  gexec_add_plugin(${target} OUTPUT_NAME ${P_OUTPUT_NAME} SOURCES ${P_SOURCES}
                   LIBS ${P_LIBS} DESTINATION ${GX_PLUGIN_SUBDIR})
  set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${GX_PLUGIN_OUTPUT_DIR})
endfunction()
