using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>
/// The float16 export's safeguards (tools/paligemma_onnx.py, tools/export_paligemma2.py): the float32 island
/// behind the decoder keeps a near-tie that float16 collapses, and the calibration check refuses weights or
/// activations past float16's range. Scripts/float16_checks.py builds the cases with Debian's torch/onnx/numpy.
/// </summary>
public sealed class Float16ExportTests
{
    [Fact]
    public void Float32_island_keeps_the_argmax_that_a_float16_soft_cap_ties_to_the_lower_id()
    {
        var dir = Directory.CreateTempSubdirectory("docpipe-island-");
        try
        {
            using var doc = JsonDocument.Parse(TestEnvironment.RunProcess(TestEnvironment.Python, [TestEnvironment.Script("float16_checks.py"), "near-tie", dir.FullName]));
            var r = doc.RootElement;
            int low = r.GetProperty("low").GetInt32(), high = r.GetProperty("high").GetInt32();

            // The case is a real near-tie: numpy float64 says `high`, float16 arithmetic ties and picks `low`.
            Assert.Equal(high, r.GetProperty("reference_argmax").GetInt32());
            Assert.True(r.GetProperty("float16_tied").GetBoolean());
            Assert.Equal(low, r.GetProperty("float16_argmax").GetInt32());

            var input = r.GetProperty("input").EnumerateArray().Select(e => (Float16)(float)e.GetDouble()).ToArray();
            var shape = r.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            using var session = new InferenceSession(r.GetProperty("graph").GetString()!);
            Assert.Equal(TensorElementType.Float16, session.InputMetadata["hidden"].ElementDataType);
            using var hidden = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(), shape);
            using var run = new RunOptions();
            using var outputs = session.Run(run, ["hidden"], [hidden], ["logits"]);
            Assert.Equal(TensorElementType.Float, outputs[0].GetTensorTypeAndShape().ElementDataType);
            var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            Assert.True(logits[high] > logits[low], $"logits {logits[high]} (id {high}) vs {logits[low]} (id {low})");
            Assert.Equal(high, Array.IndexOf(logits, logits.Max()));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Float16_calibration_refuses_an_overflowing_activation_or_weight_and_names_it()
    {
        using var doc = JsonDocument.Parse(TestEnvironment.RunProcess(TestEnvironment.Python, [TestEnvironment.Script("float16_checks.py"), "overflow"]));
        var r = doc.RootElement;
        Assert.False(r.GetProperty("unchanged").GetProperty("refused").GetBoolean());

        var scaled = r.GetProperty("scaled_mlp");
        Assert.True(scaled.GetProperty("refused").GetBoolean());
        Assert.Contains("activation of 'decoder.layers.1.mlp", scaled.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("--dtype float32", scaled.GetProperty("message").GetString(), StringComparison.Ordinal);

        var huge = r.GetProperty("huge_weight");
        Assert.True(huge.GetProperty("refused").GetBoolean());
        Assert.Contains("layers.0.self_attn.v_proj.weight", huge.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
