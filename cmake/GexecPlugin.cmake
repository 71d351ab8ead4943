# gx_add_plugin(<target> OUTPUT_NAME <gx-...> SOURCES <...>)
# A plugin is a MODULE that exports only gx_plugin_entry (version script) and cannot call back
# into the engine (-z defs: any undefined symbol fails the link). It sees only the SDK headers.
function(gx_add_plugin target)
  cmake_parse_arguments(P "" "OUTPUT_NAME" "SOURCES;LIBS" ${ARGN})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${P_OUTPUT_NAME}
    LIBRARY_OUTPUT_DIRECTORY ${GX_PLUGIN_OUTPUT_DIR})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/plugins/include)
  target_link_options(${target} PRIVATE
    -Wl,-z,defs -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/gexec-plugin.map)
  target_link_libraries(${target} PRIVATE m ${P_LIBS})
  install(TARGETS ${target} LIBRARY DESTINATION ${GX_PLUGIN_SUBDIR})
endfunction()
