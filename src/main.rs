mod catalog;
mod config;
mod error;
mod template;

fn main() {
    let cat = catalog::Catalog::load(None).unwrap();
    for a in std::env::args().skip(1) {
        match config::load(std::path::Path::new(&a), &cat) {
            Ok(c) => println!("{c:#?}"),
            Err(e) => println!("{e}"),
        }
    }
}
