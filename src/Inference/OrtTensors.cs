using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>Element-type-aware helpers over CPU <see cref="OrtValue"/> tensors (float32 and float16).</summary>
internal static class OrtTensors
{
    public static bool IsSupported(TensorElementType type) => type is TensorElementType.Float or TensorElementType.Float16;

    /// <summary>An ORT-allocated CPU tensor; float16 uses ORT's 2-byte <see cref="Float16"/>.</summary>
    public static OrtValue Allocate(TensorElementType type, long[] shape, bool clear)
    {
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, type, shape);
        if (clear)
        {
            // ORT does not zero its allocations; padding rows must not carry garbage (NaN * 0 = NaN).
            switch (type)
            {
                case TensorElementType.Float:
                    value.GetTensorMutableDataAsSpan<float>().Clear();
                    break;
                case TensorElementType.Float16:
                    value.GetTensorMutableDataAsSpan<Float16>().Clear();
                    break;
                default:
                    throw new NotSupportedException($"Element type {type} is not supported.");
            }
        }

        return value;
    }

    /// <summary>Copies <paramref name="count"/> elements between tensors, converting float32/float16 as needed.</summary>
    public static void Copy(OrtValue source, TensorElementType sourceType, int sourceOffset, OrtValue destination, TensorElementType destinationType, int destinationOffset, int count)
    {
        switch (sourceType, destinationType)
        {
            case (TensorElementType.Float, TensorElementType.Float):
                source.GetTensorDataAsSpan<float>().Slice(sourceOffset, count).CopyTo(destination.GetTensorMutableDataAsSpan<float>().Slice(destinationOffset, count));
                break;
            case (TensorElementType.Float16, TensorElementType.Float16):
                source.GetTensorDataAsSpan<Float16>().Slice(sourceOffset, count).CopyTo(destination.GetTensorMutableDataAsSpan<Float16>().Slice(destinationOffset, count));
                break;
            case (TensorElementType.Float, TensorElementType.Float16):
                TensorPrimitives.ConvertToHalf(source.GetTensorDataAsSpan<float>().Slice(sourceOffset, count), AsHalf(destination.GetTensorMutableDataAsSpan<Float16>().Slice(destinationOffset, count)));
                break;
            case (TensorElementType.Float16, TensorElementType.Float):
                TensorPrimitives.ConvertToSingle(AsHalf(source.GetTensorDataAsSpan<Float16>().Slice(sourceOffset, count)), destination.GetTensorMutableDataAsSpan<float>().Slice(destinationOffset, count));
                break;
            default:
                throw new NotSupportedException($"Cannot copy {sourceType} to {destinationType}.");
        }
    }

    /// <summary>Writes float32 data into a float32 or float16 tensor.</summary>
    public static void Write(ReadOnlySpan<float> source, OrtValue destination, TensorElementType destinationType, int destinationOffset)
    {
        if (destinationType == TensorElementType.Float)
        {
            source.CopyTo(destination.GetTensorMutableDataAsSpan<float>()[destinationOffset..]);
        }
        else
        {
            TensorPrimitives.ConvertToHalf(source, AsHalf(destination.GetTensorMutableDataAsSpan<Float16>().Slice(destinationOffset, source.Length)));
        }
    }

    /// <summary>Index of the largest of the first <paramref name="limit"/> logits of a row (first on ties, like torch.argmax).</summary>
    public static int ArgMax(OrtValue logits, TensorElementType type, int rowOffset, int limit, float[] scratch)
    {
        if (type == TensorElementType.Float)
        {
            return TensorPrimitives.IndexOfMax(logits.GetTensorDataAsSpan<float>().Slice(rowOffset, limit));
        }

        var row = scratch.AsSpan(0, limit);
        TensorPrimitives.ConvertToSingle(AsHalf(logits.GetTensorDataAsSpan<Float16>().Slice(rowOffset, limit)), row);
        return TensorPrimitives.IndexOfMax(row);
    }

    // ORT's Float16 and System.Half are both IEEE binary16 in a ushort, so the bits reinterpret as-is.
    private static Span<Half> AsHalf(Span<Float16> span) => MemoryMarshal.Cast<Float16, Half>(span);

    private static ReadOnlySpan<Half> AsHalf(ReadOnlySpan<Float16> span) => MemoryMarshal.Cast<Float16, Half>(span);
}
