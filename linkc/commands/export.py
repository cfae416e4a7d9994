"""Export a spec's module to ONNX, OpenVINO IR, torch.export (.pt2) or TorchScript.

The artifact takes one input, `input`, with a dynamic batch dimension, and is
checked against the PyTorch module (ONNX through onnxruntime, OpenVINO IR through
OpenVINO's CPU plugin in f32) on batches of 1 and 3 before the command succeeds. --weights loads a safetensors file whose keys
are the module's state_dict names (as `linkc compile` writes them); without it
the weights are freshly initialised.
"""

from __future__ import annotations


from .specargs import add_spec_arguments, build_spec


def add_arguments(p) -> None:
    add_spec_arguments(p)
    p.add_argument("--format", required=True,
                   choices=["onnx", "openvino", "torch-export", "torchscript"],
                   help="onnx (.onnx), openvino (IR: .xml, weights in the .bin beside it), "
                        "torch-export (.pt2) or torchscript (.pt)")
    p.add_argument("--weights", metavar="FILE", help="safetensors weights to load (strict)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write")
    p.add_argument("--no-check", action="store_true",
                   help="skip running the artifact against the module")


def run(args) -> int:
    from ..compiler.emit.export import export_spec

    done = export_spec(build_spec(args), args.format, args.output, weights=args.weights,
                       check=not args.no_check)
    checked = "" if args.no_check else \
        f"; matches the module on batches of 1 and 3 (max |diff| {done.max_abs_diff:.2g})"
    print(f"wrote {done.path} ({done.format}){checked}")
    return 0
