#!/usr/bin/python3
"""Writes the seed corpora of the parser fuzzers into tests/fuzz/corpus/<name>/.

Seeds are tiny valid files (a few rows) of every variant each parser accepts,
packed by hand or written by numpy and h5py, so that the fuzzers start from
inputs that reach the row reader rather than from header errors. HDF5 seeds
need Debian's python3-h5py.
The segment corpus (sealed segment files) is not made here.
Files named regress_* are inputs that once crashed a reader (kept so every
run replays them); they too are left alone.

Usage: tests/fuzz/make_corpus.py   (from anywhere; overwrites the seeds)
"""
import gzip
import os
import struct

import h5py
import numpy as np

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def write(family, name, data):
    os.makedirs(os.path.join(CORPUS, family), exist_ok=True)
    with open(os.path.join(CORPUS, family, name), 'wb') as f:
        f.write(data)


def ramp(rows, dim, dtype):
    return (np.arange(rows * dim) % 97).reshape(rows, dim).astype(dtype)


def catalog():
    # First byte: the key's length; then the key; the rest is the value.
    def record(key, value):
        return bytes([len(key)]) + key.encode() + value

    u64 = lambda *values: struct.pack('<%dQ' % len(values), *values)
    options = ('format=1\ndim=8\nbits=4\ncodec=mse\nmetric=l2\nseed=42\n'
               'keep_vectors=1\n').encode()
    write('catalog', 'options', record('options', options))
    write('catalog', 'segment', record('segment/%016x' % 3, u64(40, 2624)))
    write('catalog', 'tomb', record('tomb/%016x/%016x' % (3, 17), b''))
    write('catalog', 'wal', record('wal/%016x' % 9, u64(12345, 4) + b'\x01\x02\x03\x04' +
                                   struct.pack('<2f', 0.5, -1.0)))
    write('catalog', 'next_segment', record('next_segment', u64(4)))
    write('catalog', 'next_sequence', record('next_sequence', u64(10)))


def npy():
    def save(name, array, version=None):
        path = os.path.join(CORPUS, 'npy', name)
        with open(path, 'wb') as f:
            np.lib.format.write_array(f, array, version=version)

    os.makedirs(os.path.join(CORPUS, 'npy'), exist_ok=True)
    save('f4.npy', ramp(3, 4, '<f4'))
    save('u1.npy', ramp(2, 5, 'u1'))
    save('i4.npy', ramp(4, 2, '<i4'))
    save('rows_only.npy', np.arange(6, dtype='<i4'))  # shape (rows,): dim 1
    save('empty.npy', np.zeros((0, 3), '<f4'))
    save('v2.npy', ramp(2, 3, '<f4'), version=(2, 0))
    save('v3.npy', ramp(2, 3, '<f4'), version=(3, 0))


def idx():
    def idx_file(dims, data):
        return struct.pack('>I', 0x0800 | len(dims)) + struct.pack('>%dI' % len(dims), *dims) + data

    write('idx', 'labels-idx1-ubyte', idx_file([5], bytes(range(5))))
    write('idx', 'rows-idx2-ubyte', idx_file([2, 4], bytes(range(8))))
    images = idx_file([2, 3, 3], bytes(range(18)))
    write('idx', 'images-idx3-ubyte', images)
    # mtime=0 keeps the seed byte-identical when regenerated.
    write('idx', 'images-idx3-ubyte.gz', gzip.compress(images, mtime=0))


def texmex():
    def rows(values, fmt):
        return b''.join(struct.pack('<i', len(row)) + struct.pack('<%d%s' % (len(row), fmt), *row)
                        for row in values.tolist())

    write('texmex', 'base.fvecs', rows(ramp(3, 4, 'f4') * 0.5, 'f'))
    write('texmex', 'groundtruth.ivecs', rows(ramp(2, 5, 'i4'), 'i'))
    write('texmex', 'base.bvecs', rows(ramp(3, 6, 'u1'), 'B'))


def bin_files():
    def file(values, fmt):
        rows, dim = values.shape
        return struct.pack('<ii', rows, dim) + struct.pack('<%d%s' % (values.size, fmt),
                                                          *values.ravel().tolist())

    write('bin', 'base.fbin', file(ramp(3, 4, 'f4') * 0.25, 'f'))
    write('bin', 'base.u8bin', file(ramp(2, 6, 'u1'), 'B'))
    write('bin', 'groundtruth.ibin', file(ramp(3, 2, 'i4'), 'i'))
    write('bin', 'empty.fbin', struct.pack('<ii', 0, 4))


def hdf5():
    """One file per storage variant the HDF5 reader parses differently; each has 'train'."""
    def h5(name, build, libver=h5py.h5f.LIBVER_EARLIEST):
        os.makedirs(os.path.join(CORPUS, 'hdf5'), exist_ok=True)
        # No modification times in object headers: regenerated seeds stay
        # byte-identical.
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        fcpl.set_obj_track_times(False)
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(libver, h5py.h5f.LIBVER_LATEST)
        path = os.path.join(CORPUS, 'hdf5', name).encode()
        with h5py.File(h5py.h5f.create(path, h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)) as f:
            build(f)

    h5('contiguous_f4.hdf5', lambda f: f.create_dataset('train', data=ramp(4, 3, '<f4')))
    h5('big_endian_f4.hdf5', lambda f: f.create_dataset('train', data=ramp(4, 3, '>f4')))
    h5('u1.hdf5', lambda f: f.create_dataset('train', data=ramp(3, 4, 'u1')))
    h5('i4_rows_only.hdf5', lambda f: f.create_dataset('train', data=np.arange(5, dtype='<i4')))

    def ann(f):  # the ann-benchmarks layout, with its attributes
        f.attrs['distance'] = 'euclidean'
        f.create_dataset('train', data=ramp(4, 3, '<f4'))
        f.create_dataset('test', data=ramp(2, 3, '<f4'))
        f.create_dataset('neighbors', data=ramp(2, 2, '<i4'))
    h5('ann.hdf5', ann)
    h5('chunked_gzip.hdf5', lambda f: f.create_dataset(
        'train', data=ramp(6, 3, '<f4'), chunks=(2, 3), compression='gzip', shuffle=True,
        fletcher32=True))
    h5('compact.hdf5', lambda f: f.create_dataset(
        'train', data=ramp(2, 3, '<f4'), dcpl=compact_layout()))
    # Superblock v3, new-style object headers; unlimited rows use the
    # extensible-array chunk index, fixed rows the fixed-array one.
    latest = h5py.h5f.LIBVER_LATEST
    h5('latest_unlimited.hdf5', lambda f: f.create_dataset(
        'train', data=ramp(4, 3, '<f4'), chunks=(2, 3), maxshape=(None, 3)), libver=latest)
    h5('latest_chunked.hdf5', lambda f: f.create_dataset(
        'train', data=ramp(4, 3, 'u1'), chunks=(2, 3)), libver=latest)
    h5('latest_one_chunk.hdf5', lambda f: f.create_dataset(
        'train', data=ramp(4, 3, '<f4'), chunks=(4, 3), compression='gzip'), libver=latest)
    h5('latest_implicit.hdf5', lambda f: f.create_dataset(
        'train', data=ramp(4, 3, '<f4'), dcpl=early_chunks((2, 3))), libver=latest)

    def linked(f):  # 'train' is a soft link into nested groups
        f.create_group('data/deeper').create_dataset('vectors', data=ramp(3, 2, '<f4'))
        f['train'] = h5py.SoftLink('/data/deeper/vectors')
    h5('soft_link.hdf5', linked)
    h5('latest_soft_link.hdf5', linked, libver=latest)


def early_chunks(shape):  # chunks allocated at creation: the implicit index
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(shape)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


def compact_layout():
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    return dcpl


if __name__ == '__main__':
    catalog()
    npy()
    idx()
    texmex()
    bin_files()
    hdf5()
