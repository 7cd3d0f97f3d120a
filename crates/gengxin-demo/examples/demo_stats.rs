//! Prints the size of each generated layer and how long generation took.
fn main() {
    let t = std::time::Instant::now();
    let demo = gengxin_demo::generate(gengxin_demo::DEFAULT_SEED);
    println!("generated in {:.1?}", t.elapsed());
    for (layer, fs) in &demo.layers {
        println!("{:24} {:>8}", gengxin_model::Layer::by_id(*layer).name, fs.len());
    }
}
