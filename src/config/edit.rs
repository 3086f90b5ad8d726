//! Edits of config.yml that keep the user's comments, order and layout.
