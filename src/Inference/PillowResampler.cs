using System.Buffers;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>
/// 8-bit image resizing computed the way Pillow's <c>Image.resize</c> computes it (libImaging/Resample.c):
/// separable convolution, horizontal pass first into an 8-bit intermediate, the filter support widened by
/// the scale on downscaling (antialiasing), coefficients normalised and rounded to 22-bit fixed point,
/// results rounded and clipped to 0..255. Matching it pixel for pixel is what makes our model input equal
/// to what HF's image processor (PIL bicubic) fed the fine-tune.
/// </summary>
public static class PillowResampler
{
    // Pillow: PRECISION_BITS = 32 - 8 - 2 for 8-bit-per-channel images.
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>
    /// Resizes interleaved 8-bit pixels (<paramref name="channels"/> per pixel, rows packed) from
    /// <paramref name="srcWidth"/> x <paramref name="srcHeight"/> to <paramref name="dstWidth"/> x
    /// <paramref name="dstHeight"/>, writing rows <paramref name="dstStride"/> bytes apart so the result can
    /// land inside a larger canvas.
    /// </summary>
    public static void Resize(
        ReadOnlySpan<byte> source, int srcWidth, int srcHeight, int channels,
        Span<byte> destination, int dstWidth, int dstHeight, int dstStride, Resample filter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(srcWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(srcHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dstWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dstHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if (source.Length < srcWidth * srcHeight * channels)
        {
            throw new ArgumentException("Source is smaller than width x height x channels.", nameof(source));
        }

        if (dstStride < dstWidth * channels || destination.Length < ((dstHeight - 1) * dstStride) + (dstWidth * channels))
        {
            throw new ArgumentException("Destination is too small for the stride and size.", nameof(destination));
        }

        var needHorizontal = dstWidth != srcWidth;
        var needVertical = dstHeight != srcHeight;
        if (!needHorizontal && !needVertical)
        {
            for (var y = 0; y < srcHeight; y++)
            {
                source.Slice(y * srcWidth * channels, srcWidth * channels).CopyTo(destination.Slice(y * dstStride));
            }

            return;
        }

        int[]? hBounds = null, vBounds = null, hCoeffs = null, vCoeffs = null;
        byte[]? intermediate = null;
        try
        {
            var hK = 0;
            var vK = 0;
            if (needHorizontal)
            {
                hK = Coefficients(srcWidth, dstWidth, filter, out hBounds, out hCoeffs);
            }

            if (needVertical)
            {
                vK = Coefficients(srcHeight, dstHeight, filter, out vBounds, out vCoeffs);
            }

            if (needHorizontal && needVertical)
            {
                // Pillow runs the horizontal pass only over the rows the vertical pass reads.
                var firstRow = vBounds![0];
                var lastRow = vBounds[((dstHeight - 1) * 2)] + vBounds[((dstHeight - 1) * 2) + 1];
                var rows = lastRow - firstRow;
                var rowBytes = dstWidth * channels;
                intermediate = ArrayPool<byte>.Shared.Rent(rows * rowBytes);
                var mid = intermediate.AsSpan(0, rows * rowBytes);
                Horizontal(source.Slice(firstRow * srcWidth * channels), srcWidth, rows, channels, mid, dstWidth, rowBytes, hBounds!, hCoeffs!, hK);
                for (var i = 0; i < dstHeight; i++)
                {
                    vBounds[i * 2] -= firstRow;
                }

                Vertical(mid, dstWidth, channels, destination, dstHeight, dstStride, vBounds, vCoeffs!, vK);
            }
            else if (needHorizontal)
            {
                Horizontal(source, srcWidth, srcHeight, channels, destination, dstWidth, dstStride, hBounds!, hCoeffs!, hK);
            }
            else
            {
                Vertical(source, srcWidth, channels, destination, dstHeight, dstStride, vBounds!, vCoeffs!, vK);
            }
        }
        finally
        {
            Return(hBounds);
            Return(vBounds);
            Return(hCoeffs);
            Return(vCoeffs);
            if (intermediate is not null)
            {
                ArrayPool<byte>.Shared.Return(intermediate);
            }
        }
    }

    private static void Return(int[]? array)
    {
        if (array is not null)
        {
            ArrayPool<int>.Shared.Return(array);
        }
    }

    private static double Support(Resample filter) => filter == Resample.Bicubic ? 2.0 : 1.0;

    private static double Kernel(Resample filter, double x)
    {
        x = Math.Abs(x);
        if (filter == Resample.Bilinear)
        {
            return x < 1.0 ? 1.0 - x : 0.0;
        }

        const double a = -0.5;
        if (x < 1.0)
        {
            return ((((a + 2.0) * x) - (a + 3.0)) * x * x) + 1;
        }

        return x < 2.0 ? ((((x - 5) * x) + 8) * x - 4) * a : 0.0;
    }

    /// <summary>Pillow's precompute_coeffs + normalize_coeffs_8bpc: per output pixel, a first input index, a count and fixed-point weights.</summary>
    private static int Coefficients(int inSize, int outSize, Resample filter, out int[] bounds, out int[] coeffs)
    {
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = Support(filter) * filterScale;
        var kSize = ((int)Math.Ceiling(support) * 2) + 1;
        bounds = ArrayPool<int>.Shared.Rent(outSize * 2);
        coeffs = ArrayPool<int>.Shared.Rent(outSize * kSize);
        var weights = ArrayPool<double>.Shared.Rent(kSize);
        try
        {
            var ss = 1.0 / filterScale;
            for (var xx = 0; xx < outSize; xx++)
            {
                var center = (xx + 0.5) * scale;
                // C's (int) truncates toward zero; both ends are then clamped as Pillow does.
                var xmin = Math.Max((int)(center - support + 0.5), 0);
                var xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
                var ww = 0.0;
                for (var x = 0; x < xmax; x++)
                {
                    var w = Kernel(filter, (x + xmin - center + 0.5) * ss);
                    weights[x] = w;
                    ww += w;
                }

                var k = coeffs.AsSpan(xx * kSize, kSize);
                k.Clear();
                for (var x = 0; x < xmax; x++)
                {
                    var w = ww != 0.0 ? weights[x] / ww : weights[x];
                    k[x] = w < 0 ? (int)(-0.5 + (w * (1 << PrecisionBits))) : (int)(0.5 + (w * (1 << PrecisionBits)));
                }

                bounds[xx * 2] = xmin;
                bounds[(xx * 2) + 1] = xmax;
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(weights);
        }

        return kSize;
    }

    private static byte Clip8(int v) =>
        v >= (1 << PrecisionBits << 8) ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PrecisionBits);

    private static void Horizontal(
        ReadOnlySpan<byte> source, int srcWidth, int rows, int channels,
        Span<byte> destination, int dstWidth, int dstStride, int[] bounds, int[] coeffs, int kSize)
    {
        const int half = 1 << (PrecisionBits - 1);
        var srcStride = srcWidth * channels;
        for (var y = 0; y < rows; y++)
        {
            var inRow = source.Slice(y * srcStride, srcStride);
            var outRow = destination.Slice(y * dstStride, dstWidth * channels);
            for (var xx = 0; xx < dstWidth; xx++)
            {
                var xmin = bounds[xx * 2];
                var count = bounds[(xx * 2) + 1];
                var k = coeffs.AsSpan(xx * kSize, count);
                for (var c = 0; c < channels; c++)
                {
                    var ss = half;
                    var p = (xmin * channels) + c;
                    for (var x = 0; x < k.Length; x++, p += channels)
                    {
                        ss += inRow[p] * k[x];
                    }

                    outRow[(xx * channels) + c] = Clip8(ss);
                }
            }
        }
    }

    private static void Vertical(
        ReadOnlySpan<byte> source, int width, int channels,
        Span<byte> destination, int dstHeight, int dstStride, int[] bounds, int[] coeffs, int kSize)
    {
        const int half = 1 << (PrecisionBits - 1);
        var rowBytes = width * channels;
        var acc = ArrayPool<int>.Shared.Rent(rowBytes);
        try
        {
            var sums = acc.AsSpan(0, rowBytes);
            for (var yy = 0; yy < dstHeight; yy++)
            {
                var ymin = bounds[yy * 2];
                var count = bounds[(yy * 2) + 1];
                var k = coeffs.AsSpan(yy * kSize, count);
                sums.Fill(half);
                // Row-major accumulation: the same integer sums as Pillow's per-pixel loop, read contiguously.
                for (var y = 0; y < k.Length; y++)
                {
                    var w = k[y];
                    var inRow = source.Slice((ymin + y) * rowBytes, rowBytes);
                    for (var i = 0; i < rowBytes; i++)
                    {
                        sums[i] += inRow[i] * w;
                    }
                }

                var outRow = destination.Slice(yy * dstStride, rowBytes);
                for (var i = 0; i < rowBytes; i++)
                {
                    outRow[i] = Clip8(sums[i]);
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(acc);
        }
    }
}
