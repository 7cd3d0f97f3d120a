//! Builds the demo store in a directory and reports how long it took.
#[tokio::main]
async fn main() {
    let dir = std::env::args().nth(1).expect("usage: demo_build DIR");
    let t = std::time::Instant::now();
    let (path, built) = gengxin_demo::ensure(std::path::Path::new(&dir), gengxin_demo::DEFAULT_SEED).await.unwrap();
    println!("{} built={built} in {:.1?}", path.display(), t.elapsed());
}
