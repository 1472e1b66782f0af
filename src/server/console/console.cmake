# The web console (docs/console.md), compiled into argotd: argot-embed turns the files below
# into console_assets.c (one byte array each, content-hashed names). Included from
# src/server/CMakeLists.txt so the generated source belongs to argotd_core's directory.
# Order matters: a file may name ({{NAME}}) only files listed before it; the page comes last.
set(ARGOT_CONSOLE_FILES app.css api.js upload.js files.js app.js index.html)

add_executable(argot-embed ${CMAKE_CURRENT_SOURCE_DIR}/console/embed.c)
target_include_directories(argot-embed PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(argot-embed PRIVATE ${ARGOT_WARNINGS})
target_link_libraries(argot-embed PRIVATE OpenSSL::Crypto)

list(TRANSFORM ARGOT_CONSOLE_FILES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/console/
    OUTPUT_VARIABLE _console_paths)
add_custom_command(
    OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/console_assets.c
    COMMAND argot-embed ${CMAKE_CURRENT_BINARY_DIR}/console_assets.c
        ${CMAKE_CURRENT_SOURCE_DIR}/console ${ARGOT_CONSOLE_FILES}
    DEPENDS argot-embed ${_console_paths}
    COMMENT "Embedding the web console"
    VERBATIM)
target_sources(argotd_core PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/console_assets.c)
