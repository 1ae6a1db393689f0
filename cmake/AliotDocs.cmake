# Man pages and shell completions are generated from the command tree by the built binary
# (`aliot __gen-docs`) and committed under man/ and completions/. `update-docs` rewrites them;
# the docs.up_to_date test fails when they are stale.
add_custom_target(update-docs
  COMMAND $<TARGET_FILE:aliot> __gen-docs
          --man-dir ${PROJECT_SOURCE_DIR}/man
          --completion-dir ${PROJECT_SOURCE_DIR}/completions
  DEPENDS aliot
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "Regenerating man/ and completions/ from the command tree"
  VERBATIM)
