# Compiles storage/*.fbs with the Debian flatc at build time, so the generated
# headers always match the installed FlatBuffers runtime (2.0.8).
find_program(FLATC_EXECUTABLE flatc REQUIRED)
file(GLOB TQ_FBS_SCHEMAS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/storage/*.fbs)
set(TQ_GENERATED_DIR ${PROJECT_BINARY_DIR}/generated/storage)
set(TQ_GENERATED_HEADERS)
foreach(schema ${TQ_FBS_SCHEMAS})
  get_filename_component(name ${schema} NAME_WE)
  set(header ${TQ_GENERATED_DIR}/${name}_generated.h)
  add_custom_command(
    OUTPUT ${header}
    COMMAND ${FLATC_EXECUTABLE} --cpp -o ${TQ_GENERATED_DIR} ${schema}
    DEPENDS ${schema}
    COMMENT "flatc ${name}.fbs")
  list(APPEND TQ_GENERATED_HEADERS ${header})
endforeach()
add_custom_target(tq_flatbuffers_headers DEPENDS ${TQ_GENERATED_HEADERS})
add_dependencies(turboquant tq_flatbuffers_headers)
target_link_libraries(turboquant PRIVATE flatbuffers::flatbuffers)
