using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>The float32/float16 tensor paths used for float16 graphs (pixels, embeddings, logits).</summary>
public sealed class Float16Tests
{
    [Fact]
    public void Float32_to_float16_and_back_round_trips_representable_values()
    {
        float[] values = [-1f, -0.5f, 0f, 0.25f, 1f, 2048f, 3.140625f];
        using var half = OrtTensors.Allocate(TensorElementType.Float16, [1, values.Length], clear: true);
        OrtTensors.Write(values, half, TensorElementType.Float16, 0);
        using var single = OrtTensors.Allocate(TensorElementType.Float, [1, values.Length], clear: true);
        OrtTensors.Copy(half, TensorElementType.Float16, 0, single, TensorElementType.Float, 0, values.Length);
        Assert.Equal(values, single.GetTensorDataAsSpan<float>().ToArray());
        Assert.Equal((float)(Half)0.1f, ConvertOne(0.1f));
    }

    [Fact]
    public void ArgMax_over_float16_logits_respects_the_limit_and_takes_the_first_maximum()
    {
        float[] logits = [0f, 3f, 1f, 3f, 9f, /* second row */ 5f, 1f, 5f, 2f, 7f];
        using var half = OrtTensors.Allocate(TensorElementType.Float16, [2, logits.Length / 2], clear: true);
        OrtTensors.Write(logits, half, TensorElementType.Float16, 0);
        var scratch = new float[8];
        Assert.Equal(1, OrtTensors.ArgMax(half, TensorElementType.Float16, 0, 4, scratch));
        Assert.Equal(4, OrtTensors.ArgMax(half, TensorElementType.Float16, 0, 5, scratch));
        Assert.Equal(0, OrtTensors.ArgMax(half, TensorElementType.Float16, 5, 4, scratch));
        using var single = OrtValue.CreateTensorValueFromMemory(logits, [2, 5]);
        Assert.Equal(0, OrtTensors.ArgMax(single, TensorElementType.Float, 5, 4, scratch));
    }

    private static float ConvertOne(float value)
    {
        using var half = OrtTensors.Allocate(TensorElementType.Float16, [1], clear: false);
        OrtTensors.Write([value], half, TensorElementType.Float16, 0);
        return (float)(Half)half.GetTensorDataAsSpan<Float16>()[0].ToFloat();
    }
}
