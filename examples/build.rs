//! Compiles the demo's protobuf definitions with the vendored `protoc`, so a fresh machine with
//! only the Rust toolchain can build it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/ride.proto");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(
        config,
        &["proto/ride.proto"],
        &["proto"],
    )?;
    Ok(())
}
